import HypervisorCore

/// One GRUB module of the boot-time form: the file and its command line (`vm name=...`, or
/// `initrd vm=NAME`), as scripts/make-iso.sh writes them into grub.cfg.
public struct BootModule: Equatable {
  public var file: String
  public var commandLine: String
}

/// Why a profile has no boot-time form: the module line describes memory, vCPUs,
/// scheduling and the boot image, nothing more.
public enum ModuleLineError: Error, Equatable, CustomStringConvertible {
  /// No longer refused (NICs are `nic=` words); kept so the enum's users stay exhaustive.
  case hasNICs
  case hasDisk
  /// `<passthrough>`: the module line has no key for it (a VM owns a function only through
  /// the control protocol, where the node can refuse it with a reason).
  case hasPassthrough
  /// GRUB's grub.cfg lexer treats these specially, and make-iso.sh's FILE:LINE;... list
  /// splits on ';' and ':'.
  case unsafeCharacters(what: String, characters: String)

  public var description: String {
    switch self {
    case .hasNICs:
      return "the boot-time module line has no NICs; create this VM with `peregrine create` instead"
    case .hasDisk:
      return
        "the boot-time module line has no disks; create this VM with `peregrine create` instead"
    case .hasPassthrough:
      return
        "the boot-time module line has no <passthrough>; create this VM with `peregrine create` instead"
    case .unsafeCharacters(let what, let characters):
      return
        "the \(what) contains \(characters), which GRUB's grub.cfg (or make-iso.sh's module list) would not pass through unchanged"
    }
  }
}

extension MachineProfile {
  /// Characters that the GRUB script lexer interprets, and the separators of make-iso.sh's
  /// "FILE:LINE;FILE:LINE" list.
  static let unsafeModuleCharacters: Set<Character> = [
    "\"", "'", "$", ";", "\\", "{", "}", "|", "&", "<", ">", "#", "`",
  ]

  /// The VM as the node's own `VMProfile.parse` reads it: `vm name=... mem=... cpus=...
  /// [kind=linux | load=... entry=...] [sched=...] [pin=...] [nic=MAC,...] [-- cmdline]`.
  /// Disks are not in it (the module line has none). This is the form a create request can
  /// carry, so the node checks a VM created at run time exactly as one from its ISO.
  public var vmProfileLine: String {
    var words = ["vm", "name=\(name)", "mem=\(Self.sizeWord(memoryBytes))", "cpus=\(vcpus)"]
    var commandLine = ""
    switch boot {
    case .linux(_, _, let line):
      words.append("kind=linux")
      commandLine = line
    case .flat(_, let load, let segment, let offset):
      words.append("load=0x\(String(load, radix: 16))")
      words.append("entry=\(Self.hex4(segment)):\(Self.hex4(offset))")
    }
    if scheduling.mode != .shared { words.append("sched=\(scheduling.mode.profileWord)") }
    if let pins = scheduling.pinnedCPUs {
      words.append("pin=" + pins.map(String.init).joined(separator: ","))
    }
    if !nics.isEmpty {
      words.append("nic=" + nics.map { $0.mac.description }.joined(separator: ","))
    }
    var line = words.joined(separator: " ")
    if !commandLine.isEmpty { line += " -- " + commandLine }
    return line
  }

  /// The profile as boot-time GRUB modules: the guest (`vmProfileLine`), then for a Linux
  /// guest with an initramfs, `initrd vm=NAME`. `VMProfile.parse` reads the line back to the
  /// same VM (tested).
  public func moduleLines() -> Result<[BootModule], ModuleLineError> {
    guard disk == nil else { return .failure(.hasDisk) }
    guard passthrough.isEmpty else { return .failure(.hasPassthrough) }
    var modules: [BootModule] = []
    let file: String
    switch boot {
    case .linux(let kernel, _, let commandLine):
      file = kernel
      if let bad = Self.unsafe(in: commandLine) {
        return .failure(.unsafeCharacters(what: "command line", characters: bad))
      }
    case .flat(let image, _, _, _):
      file = image
    }
    let line = vmProfileLine
    modules.append(BootModule(file: file, commandLine: line))
    if case .linux(_, let initrd?, _) = boot {
      modules.append(BootModule(file: initrd, commandLine: "initrd vm=\(name)"))
    }
    for module in modules {
      if let bad = Self.unsafe(in: module.file, alsoRefusing: [":", " "]) {
        return .failure(.unsafeCharacters(what: "path \(module.file)", characters: bad))
      }
    }
    return .success(modules)
  }

  /// The modules as make-iso.sh's (and the Makefile's GUEST_MODULES) list: `FILE:LINE;...`.
  public func makeISOSpecification() -> Result<String, ModuleLineError> {
    moduleLines().map { modules in
      modules.map { "\($0.file):\($0.commandLine)" }.joined(separator: ";")
    }
  }

  /// The unsafe characters in `text`, named for a message, or nil. A path may hold no ':'
  /// or space either (the list's separators); a command line may.
  static func unsafe(in text: String, alsoRefusing extra: Set<Character> = []) -> String? {
    var found: [Character] = []
    for character in text
    where (unsafeModuleCharacters.contains(character) || extra.contains(character))
      && !found.contains(character)
    {
      found.append(character)
    }
    return found.isEmpty
      ? nil : found.map { $0 == " " ? "a space" : "'\($0)'" }.joined(separator: ", ")
  }

  /// "256M", "1G", or "4100K" when not a whole number of MiB (VMProfile.parseSize reads each).
  static func sizeWord(_ bytes: UInt64) -> String {
    if bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
    if bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
    return "\(bytes >> 10)K"
  }

  static func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
  }
}
