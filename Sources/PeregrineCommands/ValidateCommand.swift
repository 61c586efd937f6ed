import ArgumentParser
import Foundation
import PeregrineProfiles

struct ValidateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate",
    abstract: "Check a VM or virtual-cluster profile without starting anything.",
    discussion: """
      Prints each problem as FILE:LINE:COLUMN: error: MESSAGE (all of them, not just the \
      first) and exits with 65; a valid profile exits with 0. The files a profile names \
      (kernel, initrd, images) must exist, unless --no-file-check. --module-line also prints the boot-time form \
      (`vm name=...`) of each VM that has one.
      """)

  @OptionGroup var options: GlobalOptions

  @Argument(help: "The profile (XML): a <profile> or a <cluster>.")
  var profile: String

  @Flag(name: .long, help: "Print each VM's boot-time module line (FILE:vm name=...;...).")
  var moduleLine = false

  @Flag(name: .long, help: "Do not check that the kernel, initrd and image files exist.")
  var noFileCheck = false

  func run() throws {
    let environment = CLIEnvironment.current
    let document = try ProfileReading.load(
      profile, json: options.json, checksFiles: !noFileCheck, environment: environment)
    let members = document.members
    if options.json {
      environment.printJSON(
        ValidationReport(
          valid: true, profile: profile, kind: Self.kind(document),
          machines: members.map { MachineDescription($0) },
          errors: [], warnings: []))
      return
    }
    switch document {
    case .machine(let machine):
      environment.output(
        "\(profile): valid VM profile '\(machine.name)' (\(ProfileReading.summary(machine)))\n")
    case .cluster(let cluster):
      environment.output("\(profile): valid cluster '\(cluster.name)' of \(members.count) VM(s)\n")
      for member in members {
        let placement = member.node.map { " on \($0)" } ?? ""
        environment.output(
          "  \(member.profile.name)\(placement): \(ProfileReading.summary(member.profile))\n")
      }
    }
    if moduleLine {
      for member in members {
        switch member.profile.makeISOSpecification() {
        case .success(let line): environment.output("\(line)\n")
        case .failure(let reason):
          environment.output("\(member.profile.name): no module line: \(reason)\n")
        }
      }
    }
  }

  static func kind(_ document: ProfileDocument) -> String {
    if case .cluster = document { return "cluster" }
    return "machine"
  }
}

/// `validate --json`.
struct ValidationReport: Encodable {
  var valid: Bool
  var profile: String
  var kind: String?
  var machines: [MachineDescription]
  var errors: [DiagnosticRecord]
  /// Kept for the report's shape: nodes run all that a valid profile describes (disks and
  /// NICs since issue 13), so nothing validates that `create` would refuse and it is empty.
  var warnings: [String] = []
}

struct DiagnosticRecord: Encodable {
  var file: String?
  var line: Int
  var column: Int
  var kind: String
  var message: String

  init(_ diagnostic: ProfileDiagnostic) {
    file = diagnostic.file
    line = diagnostic.line
    column = diagnostic.column
    kind = diagnostic.kind.rawValue
    message = diagnostic.message
  }
}

/// A profile's VM as `validate --json` shows it.
struct MachineDescription: Encodable {
  var name: String
  var node: String?
  var type: String
  var memory: UInt64
  var vcpus: Int
  var boot: String
  var kernel: String?
  var initrd: String?
  var cmdline: String?
  var image: String?
  var sched: String
  var pin: [Int]?
  var nics: [String]
  var moduleLine: String?

  init(_ member: ClusterProfile.Member) {
    let profile = member.profile
    name = profile.name
    node = member.node
    type = profile.type.rawValue
    memory = profile.memoryBytes
    vcpus = profile.vcpus
    switch profile.boot {
    case .linux(let kernel, let initrd, let commandLine):
      boot = "linux"
      self.kernel = kernel
      self.initrd = initrd
      cmdline = commandLine
    case .flat(let image, _, _, _):
      boot = "flat"
      self.image = image
    }
    sched = profile.scheduling.mode.profileWord
    pin = profile.scheduling.pinnedCPUs
    nics = profile.nics.map { $0.mac.description }
    moduleLine = try? profile.makeISOSpecification().get()
  }
}

/// Loading a profile for a command: diagnostics printed (text or JSON), then a CLIError
/// with the profile's exit status.
enum ProfileReading {
  static func load(
    _ path: String, json: Bool, checksFiles: Bool = true, environment: CLIEnvironment
  ) throws
    -> ProfileDocument
  {
    switch ProfileLoader(checksFiles: checksFiles).load(path: path) {
    case .success(let document): return document
    case .failure(let errors):
      let unreadable = errors.diagnostics.count == 1 && errors.diagnostics[0].line == 0
      if json {
        environment.printJSON(
          ValidationReport(
            valid: false, profile: path, kind: nil, machines: [],
            errors: errors.diagnostics.map(DiagnosticRecord.init)))
      } else {
        for diagnostic in errors.diagnostics {
          environment.errors(
            unreadable ? "peregrine: error: \(path): \(diagnostic.message)\n" : "\(diagnostic)\n")
        }
        if !unreadable {
          environment.errors(
            "\(path): \(errors.diagnostics.count) error(s); nothing was started (see docs/profiles.md)\n"
          )
        }
      }
      throw CLIError(
        unreadable ? .noInput : .invalidProfile, errors.description, reported: true)
    }
  }

  /// "256 MiB, 2 vCPUs, Linux kernel /path, pinned".
  static func summary(_ profile: MachineProfile) -> String {
    var parts = [
      Formatting.bytes(profile.memoryBytes),
      "\(profile.vcpus) vCPU\(profile.vcpus == 1 ? "" : "s")",
    ]
    switch profile.boot {
    case .linux(let kernel, let initrd, _):
      parts.append("Linux kernel \(kernel)" + (initrd.map { " with initrd \($0)" } ?? ""))
    case .flat(let image, _, _, _):
      parts.append("flat image \(image)")
    }
    parts.append(profile.scheduling.mode.profileWord)
    if !profile.nics.isEmpty { parts.append("\(profile.nics.count) NIC(s)") }
    for function in profile.passthrough {
      parts.append("passthrough pci \(String(decoding: function.text, as: UTF8.self))")
    }
    if let disk = profile.disk {
      parts.append("disk \(disk.storeName ?? disk.path) (\(disk.sizeMiB) MiB)")
    }
    return parts.joined(separator: ", ")
  }
}
