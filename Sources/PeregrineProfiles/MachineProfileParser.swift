import HypervisorCore

/// `<profile>` → `MachineProfile`, with every check of docs/profiles.md. The limits are the
/// boot-time module line's (`VMProfile`), so a profile that validates here is one the node's
/// own parser takes too.
public enum MachineProfileParser {
  public static let elements = [
    "name", "type", "memory", "vcpus", "kernel", "initrd", "cmdline", "flat", "sched", "image",
    "passthrough",
  ]
  /// `<nic1>` ... `<nic8>`.
  public static let maximumNICs = 8
  /// Linux's x86 boot protocol reads at most `cmdline_size` bytes; 2047 on x86 kernels.
  public static let maximumCommandLineBytes = 2047
  /// `<image size=>` in MiB: 1 MiB to 1 TiB.
  public static let maximumDiskMiB: UInt64 = 1 << 20
  public static let memoryUnits: [(name: String, shift: UInt64)] = [
    ("KiB", 10), ("MiB", 20), ("GiB", 30),
  ]
  public static let minimumMemory: UInt64 = 1 << 20

  public static func parse(
    _ root: XMLElementNode, file: String? = nil, files: ProfileFiles? = nil
  ) -> Result<MachineProfile, ProfileErrors> {
    var reader = ElementReader(file: file, files: files)
    let profile = parse(root, reader: &reader)
    if let profile, reader.diagnostics.isEmpty { return .success(profile) }
    return .failure(ProfileErrors(reader.diagnostics))
  }

  static func parse(_ root: XMLElementNode, reader: inout ElementReader) -> MachineProfile? {
    guard root.name == "profile" else {
      reader.report(
        .unknownElement, "the root element is <\(root.name)>; a VM profile is a <profile>", at: root
      )
      return nil
    }
    reader.checkAttributes(of: root, allowed: [])
    let children = reader.children(
      of: root, allowed: elements, alsoAllowed: { nicIndex($0) != nil },
      alsoAllowedDescription: "<nic1> ... <nic\(maximumNICs)>", repeatable: ["passthrough"])
    let name = reader.requiredText("name", in: root, from: children)
    if let name, let element = children["name"] {
      if name.utf8.count > VMProfile.maximumNameLength || !name.utf8.allSatisfy(isNameCharacter) {
        reader.report(
          .invalidValue,
          "VM name '\(abbreviated(name))' must be 1-\(VMProfile.maximumNameLength) characters of A-Z a-z 0-9 - _ .",
          at: element)
      }
    }
    var type = MachineProfile.MachineType.peregrine
    if let element = children["type"] {
      let text = reader.leafText(element)
      if let known = MachineProfile.MachineType(rawValue: text) {
        type = known
      } else {
        reader.report(
          .unknownType,
          "unknown VM type '\(abbreviated(text))'; Peregrine runs <type>peregrine</type> only (V3M's other backends, such as kvm or xen, are not Peregrine's)",
          at: element)
      }
    }
    var memory: UInt64? = nil
    if let element = children["memory"] {
      memory = parseMemory(element, reader: &reader)
    } else {
      reader.report(
        .missingElement,
        "<profile> has no <memory>, which is required (e.g. <memory unit=\"MiB\">256</memory>)",
        at: root)
    }
    var vcpus = 1
    if let element = children["vcpus"] {
      let text = reader.leafText(element)
      if let count = Int(text), count >= 1, count <= VMProfile.maximumVCPUs {
        vcpus = count
      } else {
        reader.report(
          Int(text) == nil ? .invalidValue : .outOfRange,
          "<vcpus> is '\(abbreviated(text))'; it must be a whole number from 1 to \(VMProfile.maximumVCPUs)",
          at: element)
      }
    }
    let boot = parseBoot(root, children, reader: &reader)
    let scheduling = children["sched"].flatMap {
      parseScheduling($0, vcpus: vcpus, reader: &reader)
    }
    let disk = children["image"].flatMap { parseDisk($0, reader: &reader) }
    let nics = parseNICs(root, reader: &reader)
    let passthrough = parsePassthrough(root, reader: &reader)

    guard let name, let memory, let boot else { return nil }
    var profile = MachineProfile(name: name, boot: boot)
    profile.type = type
    profile.memoryBytes = memory
    profile.vcpus = vcpus
    if let scheduling { profile.scheduling = scheduling }
    profile.disk = disk
    profile.nics = nics
    profile.passthrough = passthrough
    profile.sourceFile = reader.file
    return profile
  }

  /// `<memory unit=>`: bytes, checked against the module line's limits.
  static func parseMemory(_ element: XMLElementNode, reader: inout ElementReader) -> UInt64? {
    let text = reader.leafText(element, allowedAttributes: ["unit"])
    let unitName = element.attribute("unit") ?? "MiB"
    guard let unit = memoryUnits.first(where: { $0.name == unitName }) else {
      reader.report(
        .invalidValue,
        "unknown memory unit '\(abbreviated(unitName))'; use KiB, MiB or GiB (MiB when no unit is given)",
        at: element)
      return nil
    }
    guard let amount = UInt64(text) else {
      reader.report(
        .invalidValue,
        "<memory> is '\(abbreviated(text))'; it must be a whole number of \(unit.name)", at: element
      )
      return nil
    }
    let maximum = VMProfile.maximumMemory
    guard amount <= maximum >> unit.shift, amount << unit.shift >= minimumMemory else {
      reader.report(
        .outOfRange,
        "<memory> of \(amount) \(unit.name) is out of range; a VM has from 1 MiB to \(maximum >> 30) GiB",
        at: element)
      return nil
    }
    let bytes = amount << unit.shift
    guard bytes % 4096 == 0 else {
      reader.report(
        .invalidValue, "<memory> of \(amount) \(unit.name) is not a whole number of 4 KiB pages",
        at: element)
      return nil
    }
    return bytes
  }

  static func parseScheduling(
    _ element: XMLElementNode, vcpus: Int, reader: inout ElementReader
  ) -> MachineProfile.Scheduling? {
    let text = reader.leafText(element, allowedAttributes: ["pin"])
    guard let mode = SchedulingMode(profileWord: text) else {
      reader.report(
        .invalidValue, "<sched> is '\(abbreviated(text))'; it must be shared, pinned or gang",
        at: element)
      return nil
    }
    guard let list = element.attribute("pin") else {
      return MachineProfile.Scheduling(mode: mode, pinnedCPUs: nil)
    }
    var cpus: [Int] = []
    for word in list.split(separator: ",", omittingEmptySubsequences: false) {
      let trimmed = word.trimmingCharacters(in: .whitespaces)
      guard let cpu = Int(trimmed), cpu >= 0, cpu <= VMProfile.maximumCPUIndex,
        trimmed.allSatisfy(\.isNumber)
      else {
        reader.report(
          .invalidValue,
          "<sched pin='\(abbreviated(list))'>: '\(abbreviated(trimmed))' is not a host CPU number (0 to \(VMProfile.maximumCPUIndex))",
          at: element)
        return nil
      }
      cpus.append(cpu)
    }
    guard cpus.count == vcpus else {
      reader.report(
        .invalidValue,
        "<sched pin=> lists \(cpus.count) CPU(s) for \(vcpus) vCPU(s); it names one host CPU per vCPU",
        at: element)
      return nil
    }
    if mode != .shared, let repeated = firstRepeat(cpus) {
      reader.report(
        .invalidValue,
        "<sched pin=> names CPU \(repeated) twice; \(mode.profileWord) vCPUs each need a CPU of their own",
        at: element)
      return nil
    }
    return MachineProfile.Scheduling(mode: mode, pinnedCPUs: cpus)
  }

  static func parseDisk(_ element: XMLElementNode, reader: inout ElementReader) -> MachineProfile
    .Disk?
  {
    let path = reader.leafText(element, allowedAttributes: ["size"])
    if path.isEmpty {
      reader.report(
        .missingElement, "<image> is empty; it holds the disk image's path", at: element)
    }
    guard let text = element.attribute("size") else {
      reader.report(
        .missingAttribute, "<image> has no size=\"MiB\" attribute, which is required", at: element)
      return nil
    }
    guard let size = UInt64(text), size >= 1, size <= maximumDiskMiB else {
      reader.report(
        UInt64(text) == nil ? .invalidValue : .outOfRange,
        "<image size='\(abbreviated(text))'> must be a whole number of MiB from 1 to \(maximumDiskMiB)",
        at: element)
      return nil
    }
    guard !path.isEmpty else { return nil }
    // A bare name may be an image of the CLI's store, which the profile parser does not
    // know: `create` looks there first, then for the file (docs/profiles.md).
    if !path.contains("/") && !path.hasPrefix("~") {
      return MachineProfile.Disk(
        path: reader.files?.resolve(path) ?? path, sizeMiB: size, storeName: path)
    }
    return MachineProfile.Disk(path: reader.resolvedPath(path, for: element), sizeMiB: size)
  }

  /// Decimal, or hexadecimal with 0x.
  static func parseNumber(_ text: String) -> UInt64? {
    if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
    return text.allSatisfy(\.isNumber) ? UInt64(text) : nil
  }

  static func firstRepeat(_ values: [Int]) -> Int? {
    var seen: Set<Int> = []
    for value in values {
      if !seen.insert(value).inserted { return value }
    }
    return nil
  }
}

/// The characters of a VM or network name: the module line's `name=` takes the same
/// (VMProfile.parse), so names carry over to it unchanged.
func isNameCharacter(_ c: UInt8) -> Bool {
  switch c {
  case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
    return true
  default: return false
  }
}
