import ArgumentParser
import Foundation

/// `peregrine image ...`: the disk images VMs get from their profile's `<image>`
/// (docs/cli.md, "Disk images").
struct ImageCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "image",
    abstract: "Make, import, list, save and remove the disk images VMs boot with.",
    discussion: """
      Images are sparse files in $PEREGRINE_HOME/images. A profile's <image size="MiB">NAME\
      </image> names one; `create` sends it to the node (its chunks of zeros stay home), \
      `image save VM` and `destroy VM` bring the VM's disk back.
      """,
    subcommands: [
      ImageCreateCommand.self, ImageImportCommand.self, ImageListCommand.self,
      ImageSaveCommand.self, ImageRemoveCommand.self,
    ])
}

enum ImageFormat: String, ExpressibleByArgument, CaseIterable {
  case raw, ext4
}

struct ImageCreateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create", abstract: "Make an empty image (all zeros, or a fresh ext4).")
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The image's name.") var name: String
  @Option(name: .long, help: "Its size: 500M, 2G (whole MiB).") var size: String
  @Option(name: .long, help: "raw (zeros) or ext4 (mkfs.ext4 from e2fsprogs).")
  var format: ImageFormat = .raw

  func run() throws {
    let environment = CLIEnvironment.current
    let store = environment.state.images
    let bytes = try DiskImageStore.parseSize(size)
    try store.createEmpty(name, size: bytes, origin: format.rawValue)
    if format == .ext4 {
      do {
        try Ext4Formatter.format(store.file(name).path, label: name)
      } catch {
        try? store.remove(name)
        throw error
      }
    }
    let entry = try store.list().first { $0.name == name }!
    if options.json {
      environment.printJSON(entry)
    } else {
      environment.output(
        "created image \(name): \(Formatting.bytes(entry.size)) \(format.rawValue), \(Formatting.bytes(entry.allocatedBytes)) allocated\n"
      )
    }
  }
}

/// mkfs.ext4 (e2fsprogs) on an image file, with no journal lazy init so the guest finds a
/// filesystem that needs no background work.
enum Ext4Formatter {
  static func format(_ path: String, label: String) throws {
    let candidates = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", "/usr/bin/mkfs.ext4"]
    guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
      throw CLIError(
        .failure, "mkfs.ext4 is not installed",
        hint: "install e2fsprogs (scripts/install-deps.sh does), or use --format raw")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = [
      "-q", "-F", "-L", String(label.prefix(16)), "-E", "lazy_itable_init=0,lazy_journal_init=0",
      path,
    ]
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = errors
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let text = String(
        decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      throw CLIError(
        .failure,
        "mkfs.ext4 failed on \(path): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
  }
}

struct ImageImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import", abstract: "Copy a disk image file into the store (sparse).")
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The file (a raw disk image).") var file: String
  @Option(name: .long, help: "Its name in the store (default: the file's name without extension).")
  var name: String?

  func run() throws {
    let environment = CLIEnvironment.current
    let store = environment.state.images
    let imageName =
      name ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    try store.checkFree(imageName)
    guard let data = FileManager.default.contents(atPath: file) else {
      throw CLIError(.noInput, "cannot read \(file)")
    }
    guard data.count > 0 else { throw CLIError(.usage, "\(file) is empty: an image needs a size") }
    try store.store([UInt8](data), as: imageName, origin: "import", replacing: false)
    let entry = try store.list().first { $0.name == imageName }!
    if options.json {
      environment.printJSON(entry)
    } else {
      environment.output(
        "imported \(file) as \(imageName): \(Formatting.bytes(entry.size)), \(Formatting.bytes(entry.allocatedBytes)) allocated\n"
      )
    }
  }
}

struct ImageListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "The images: size, bytes allocated, created and modified.")
  @OptionGroup var options: GlobalOptions

  func run() throws {
    let environment = CLIEnvironment.current
    let entries = try environment.state.images.list()
    if options.json {
      environment.printJSON(ImageList(images: entries))
    } else if entries.isEmpty {
      environment.output("no images\n")
    } else {
      let format = ISO8601DateFormatter()
      environment.output(
        Formatting.table(
          ["NAME", "SIZE", "ALLOCATED", "CREATED", "MODIFIED", "ORIGIN"],
          entries.map {
            [
              $0.name, Formatting.bytes($0.size), Formatting.bytes($0.allocatedBytes),
              format.string(from: $0.created), format.string(from: $0.modified), $0.origin,
            ]
          }))
    }
  }
}

struct ImageList: Encodable {
  var images: [DiskImageStore.Entry]
}

struct ImageRemoveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "remove", abstract: "Delete an image from the store.")
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The image's name.") var name: String

  func run() throws {
    let environment = CLIEnvironment.current
    try environment.state.images.remove(name)
    if options.json {
      environment.printJSON(["removed": name])
    } else {
      environment.output("removed image \(name)\n")
    }
  }
}

struct ImageSaveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "save",
    abstract: "Bring a VM's disk back to the store (pausing the VM while it is read).",
    discussion: """
      Without --as, the disk goes back where it came from (the store image or file its \
      profile named), else into an image named after the VM. A running VM is paused while \
      its disk is read and resumed after; a VM that ended by itself keeps its disk on the \
      node until `destroy`, and can be saved meanwhile.
      """)
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM's name.") var vm: String
  @Option(name: .customLong("as"), help: "A new image name to save it as.") var target: String?

  func run() throws {
    let environment = CLIEnvironment.current
    let session = try ClusterSession(environment: environment)
    let saved = try DiskSaving.save(vm, as: target, session: session, json: options.json)
    if options.json { environment.printJSON(saved) }
  }
}

/// What `image save` and `destroy` report of a disk brought back.
struct SavedDisk: Encodable {
  var machine: String
  var node: String
  /// "image NAME" or a file's path.
  var savedTo: String
  var size: UInt64
  var dataChunks: Int
  var requests: Int
  var seconds: Double
}

/// Reading a VM's disk back into the store (or its file): `image save` and `destroy`.
enum DiskSaving {
  /// Where VM `vm`'s disk goes: `--as NAME` (a new image), else its recorded source, else
  /// an image named after the VM.
  static func destination(of vm: String, as target: String?, state: ClusterState) throws
    -> (DiskSource, replacing: Bool)
  {
    if let target {
      try state.images.checkFree(target)
      return (.store(target), false)
    }
    if let entry = DiskRecords.entry(of: vm, in: state) { return (entry.source, true) }
    try state.images.checkFree(vm)
    return (.store(vm), false)
  }

  /// Pauses a running VM, reads its disk back (checked against the node's SHA-256), writes
  /// it (sparse, atomically), and resumes the VM if it paused it.
  @discardableResult
  static func save(
    _ vm: String, as target: String?, session: ClusterSession, json: Bool, resume: Bool = true
  ) throws -> SavedDisk {
    let environment = session.environment
    let (destination, replacing) = try destination(of: vm, as: target, state: environment.state)
    let (node, connection, state) = try locateDisk(of: vm, session: session)
    var paused = false
    var succeeded = false
    if state == .running || state == .starting {
      try environment.request { try connection.pauseMachine(named: vm) }
      paused = true
    }
    // Resumed after (unless the VM is to be destroyed next), and after any failure.
    defer {
      if paused && (resume || !succeeded) {
        _ = try? environment.request { try connection.unpauseMachine(named: vm) }
      }
    }
    let started = environment.now()
    let reporter = TransferReporter(
      environment: environment, draw: environment.errorsIsTerminal && !json)
    let contents: DiskContents
    do {
      contents = try environment.request {
        try readWhenPaused(vm, connection: connection, environment: environment) {
          reporter.update($0)
        }
      }
    } catch {
      reporter.finish()
      throw error
    }
    reporter.finish()
    switch destination {
    case .store(let name):
      try environment.state.images.store(
        contents.image, as: name, origin: "save", replacing: replacing)
    case .file(let path):
      try SparseFile.write(contents.image, to: URL(fileURLWithPath: path))
    }
    succeeded = true
    let seconds = environment.now().timeIntervalSince(started)
    let saved = SavedDisk(
      machine: vm, node: node.name, savedTo: destination.description,
      size: UInt64(contents.image.count), dataChunks: contents.dataChunks,
      requests: contents.requests, seconds: seconds)
    if !json {
      environment.output(
        "saved the disk of \(vm) on \(node.name) to \(destination.description): \(Formatting.bytes(saved.size)), \(contents.dataChunks) chunks of data in \(contents.requests) requests, \(Formatting.seconds(seconds))\n"
      )
    }
    return saved
  }

  /// The node with VM `vm` (listed), or, for a VM that ended by itself, the node its disk
  /// record names (the node keeps the disk until `destroy`).
  static func locateDisk(of vm: String, session: ClusterSession) throws -> (
    NodeRecord, NodeConnection, MachineState
  ) {
    do {
      let (node, connection, machine) = try session.locate(vm)
      return (node, connection, machine.state)
    } catch let error as CLIError where error.status == .noSuchMachine {
      guard let recorded = DiskRecords.entry(of: vm, in: session.environment.state),
        let node = session.nodes.first(where: { $0.name == recorded.node })
      else { throw error }
      return (node, try session.connection(to: node), .ended)
    }
  }

  /// The disk, once the pause took effect: a pause is complete when every vCPU has parked,
  /// and until then the node refuses the read ("pause the VM first"); asked again for up
  /// to 10 s.
  static func readWhenPaused(
    _ vm: String, connection: NodeConnection, environment: CLIEnvironment,
    progress: (TransferProgress) -> Void
  ) throws -> DiskContents {
    var attempts = 0
    while true {
      do {
        return try connection.readDisk(of: vm, progress: progress)
      } catch NodeError.refused(_, let reason)
        where reason.contains("pause the VM first") && attempts < 100
      {
        attempts += 1
        environment.sleep(0.1)
      }
    }
  }
}
