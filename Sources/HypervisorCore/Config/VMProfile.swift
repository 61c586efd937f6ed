/// A VM's description, as the ISO carries it on a guest module's command line:
///
///     vm name=NAME [mem=16M] [load=0x1000] [entry=0000:1000] [cpus=1]
///        [unmapped=stop|ignore] [storm=on|off] [kind=flat|linux|multiboot] [apic=on|off]
///        [sched=shared|pinned|gang] [pin=0,2,4,6] [trace=N] [rng=on|off] [testdev=on|off]
///        [iommu=vtd|off] [edu=on|off]
///        [-- GUEST COMMAND LINE]
///
/// `trace=N` records the first N exits of each vCPU and prints them on the console when the
/// VM ends (ExitTraceRecorder, docs/exit-trace.md).
///
/// `apic=on` gives a flat guest's vCPUs local APICs (Linux guests always have them).
///
/// `sched=` says how the vCPUs share host CPUs (`SchedulingMode`; shared by default), and
/// `pin=` names the host CPU of each vCPU, one per vCPU in vCPU order.
/// `start=all` (the default) starts every vCPU of a flat guest at its entry; `start=bsp`
/// starts only vCPU 0, and the others wait for INIT and start-up IPIs as application
/// processors do (VirtualMachine.holdApplicationProcessors).
///
/// `kind=linux` makes the module a bzImage booted by the Linux boot protocol, with the words
/// after ` -- ` as its kernel command line and the module named `initrd vm=NAME` as its
/// initramfs.
///
/// `kind=multiboot` makes the module a multiboot (v1 or v2) kernel entered in 32-bit
/// protected mode, with the VM's name and the words after ` -- ` as its command line and
/// the modules named `module vm=NAME [STRING]` as its multiboot modules, in order.
///
/// `disk=NAME` gives the VM a virtio-blk disk: a private, writable copy of the image NAME
/// (at boot, the module named `disk vm=NAME`; docs/guest-io.md).
/// `rng=on` puts a virtio-rng device (virtio-pci, VirtioEntropyDevice) on the VM's PCI bus,
/// for VMs that have one (interrupt controllers: Linux, multiboot, flat with `apic=on`;
/// docs/guest-io.md). Off by default.
///
/// `testdev=on` gives a multiboot guest QEMU's pc-testdev as kvm-unit-tests uses it
/// (PCTestDevice: ports 0xE0 and 0x2000–0x2017, I/O RAM at 0xFF00_0000) and the 8259 pair
/// it raises lines on (PIC8259Pair, ExtINT through vCPU 0's LINT0). Off by default; the KUT
/// runner (scripts/kvm_unit_tests.py) turns it on for every test.
///
/// `iommu=vtd` gives the VM a virtual Intel VT-d unit at 0xFED9_0000 (VirtualRemappingUnit,
/// docs/virtual-iommu.md) in front of its emulated PCI functions and its I/O APIC, named by
/// a DMAR table; `edu=on` puts QEMU's edu test device (EduDevice) on its PCI bus. Both need
/// a PCI bus; both are off by default, and a VM with either is not checkpointed.
///
/// Validated before any memory is given to the VM; a bad profile is refused with a
/// message and the other VMs boot regardless.
public struct VMProfile: Equatable {
  public enum UnmappedAccessPolicy: Equatable {
    /// Stop the VM with a report (the default for test guests: it catches wild pointers).
    case stop
    /// The architectural answer: reads of all ones, writes dropped, counted.
    case ignore
  }

  public var name: [UInt8]
  public var memorySize: UInt64 = 16 << 20
  public var loadAddress: UInt64 = 0x1000
  public var entrySegment: UInt16 = 0
  public var entryOffset: UInt16 = 0x1000
  public var vcpuCount: Int = 1
  public var unmapped: UnmappedAccessPolicy = .stop
  public var stormDetection = true
  public var localAPIC = false
  /// Which vCPUs of a flat guest start at its entry (`start=`).
  public enum Startup: Equatable {
    case allVCPUs
    case bootstrapOnly
  }
  public var startup = Startup.allVCPUs
  public enum Kind: Equatable { case flat, linux, multiboot }
  public var kind = Kind.flat
  /// The guest kernel's command line (`kind=linux`, `kind=multiboot`): everything after " -- ".
  public var guestCommandLine: [UInt8] = []
  public var scheduling = SchedulingMode.shared
  /// pin=: the host CPU of each vCPU, as many as `vcpuCount`.
  public var pinnedCPUs: [Int]? = nil
  /// trace=: exits to record per vCPU; 0, the default, records none.
  public var traceExits = 0
  /// The name of the image (a transferred image or a boot module) that backs the VM's
  /// virtio-blk disk; empty for none.
  public var diskImage: [UInt8] = []
  /// One MAC address (6 bytes) per guest NIC (virtio-net), in `<nicN>` order.
  public var nicMACs: [[UInt8]] = []
  /// rng=on: a virtio-rng function on the VM's PCI bus.
  public var entropyDevice = false
  /// testdev=on: the pc-testdev and the 8259 pair (multiboot guests).
  public var testDevice = false
  /// iommu=vtd: a virtual VT-d unit (DMA and interrupt remapping) for the VM's devices.
  public var virtualIOMMU = false
  /// edu=on: QEMU's edu device on the VM's PCI bus.
  public var eduDevice = false
  /// Host PCI functions handed to the guest (`<passthrough>`, docs/passthrough.md); claimed
  /// by the node (PassthroughClaims) before the VM is built. Only the control protocol sets
  /// them: the boot-time module line has no key for them.
  public var passthrough: [PassthroughFunction] = []

  public static let maximumNameLength = 31
  public static let maximumMemory: UInt64 = 64 << 30
  public static let maximumVCPUs = 64
  /// trace= at most (ExitTraceRecorder bounds the bytes as well).
  public static let maximumTracedExits = 100_000
  /// The highest host CPU number pin= accepts.
  public static let maximumCPUIndex = 4095

  public init(name: [UInt8]) { self.name = name }

  /// Parses the words after the leading "vm".
  public static func parse(_ fullLine: [UInt8]) -> Result<VMProfile, VMProfileError> {
    var line = fullLine
    var guestCommandLine: [UInt8] = []
    if let start = separatorIndex(in: fullLine) {
      line = Array(fullLine[..<start])
      guestCommandLine = Array(fullLine[(start + 4)...])
    }
    var words = ProfileWords(line)
    guard let first = words.next(), first.key == Array("vm".utf8), first.value == nil else {
      return .failure(.notAProfile)
    }
    var profile = VMProfile(name: [])
    var unmappedGiven = false
    // Every key at most once: with two values, which one a reader of grub.cfg expects to
    // count is a guess, so the profile is refused rather than one of them picked.
    var givenKeys: [[UInt8]] = []
    while let word = words.next() {
      guard let value = word.value, !value.isEmpty else { return .failure(.missingValue(word.key)) }
      guard !givenKeys.contains(word.key) else { return .failure(.repeatedKey(word.key)) }
      givenKeys.append(word.key)
      switch word.key {
      case Array("name".utf8):
        guard value.count <= maximumNameLength, value.allSatisfy(isNameCharacter) else {
          return .failure(.invalidName)
        }
        profile.name = value
      case Array("mem".utf8):
        guard let size = parseSize(value), size >= 1 << 20, size <= maximumMemory, size % 4096 == 0
        else {
          return .failure(.invalidValue(word.key))
        }
        profile.memorySize = size
      case Array("load".utf8):
        guard let address = parseNumber(value) else { return .failure(.invalidValue(word.key)) }
        profile.loadAddress = address
      case Array("entry".utf8):
        guard let colon = value.firstIndex(of: UInt8(ascii: ":")),
          let segment = parseHex(value[..<colon]), segment <= 0xFFFF,
          let offset = parseHex(value[(colon + 1)...]), offset <= 0xFFFF
        else { return .failure(.invalidValue(word.key)) }
        profile.entrySegment = UInt16(segment)
        profile.entryOffset = UInt16(offset)
      case Array("cpus".utf8):
        guard let count = parseNumber(value), count >= 1, count <= UInt64(maximumVCPUs) else {
          return .failure(.invalidValue(word.key))
        }
        profile.vcpuCount = Int(count)
      case Array("unmapped".utf8):
        unmappedGiven = true
        switch value {
        case Array("stop".utf8): profile.unmapped = .stop
        case Array("ignore".utf8): profile.unmapped = .ignore
        default: return .failure(.invalidValue(word.key))
        }
      case Array("kind".utf8):
        switch value {
        case Array("flat".utf8): profile.kind = .flat
        case Array("linux".utf8): profile.kind = .linux
        case Array("multiboot".utf8): profile.kind = .multiboot
        default: return .failure(.invalidValue(word.key))
        }
      case Array("apic".utf8):
        switch value {
        case Array("on".utf8): profile.localAPIC = true
        case Array("off".utf8): profile.localAPIC = false
        default: return .failure(.invalidValue(word.key))
        }
      case Array("sched".utf8):
        switch value {
        case Array("shared".utf8): profile.scheduling = .shared
        case Array("pinned".utf8): profile.scheduling = .pinned
        case Array("gang".utf8): profile.scheduling = .gang
        default: return .failure(.invalidValue(word.key))
        }
      case Array("pin".utf8):
        guard let cpus = parseCPUList(value) else { return .failure(.invalidValue(word.key)) }
        profile.pinnedCPUs = cpus
      case Array("start".utf8):
        switch value {
        case Array("all".utf8): profile.startup = .allVCPUs
        case Array("bsp".utf8): profile.startup = .bootstrapOnly
        default: return .failure(.invalidValue(word.key))
        }
      case Array("trace".utf8):
        guard let count = parseNumber(value), count >= 1, count <= UInt64(maximumTracedExits)
        else { return .failure(.invalidValue(word.key)) }
        profile.traceExits = Int(count)
      case Array("storm".utf8):
        switch value {
        case Array("on".utf8): profile.stormDetection = true
        case Array("off".utf8): profile.stormDetection = false
        default: return .failure(.invalidValue(word.key))
        }
      case Array("disk".utf8):
        guard value.count <= maximumNameLength, value.allSatisfy(isNameCharacter) else {
          return .failure(.invalidValue(word.key))
        }
        profile.diskImage = value
      case Array("rng".utf8):
        switch value {
        case Array("on".utf8): profile.entropyDevice = true
        case Array("off".utf8): profile.entropyDevice = false
        default: return .failure(.invalidValue(word.key))
        }
      case Array("nic".utf8):
        guard let macs = parseMACList(value) else { return .failure(.invalidValue(word.key)) }
        profile.nicMACs = macs
      case Array("testdev".utf8):
        switch value {
        case Array("on".utf8): profile.testDevice = true
        case Array("off".utf8): profile.testDevice = false
        default: return .failure(.invalidValue(word.key))
        }
      case Array("iommu".utf8):
        switch value {
        case Array("vtd".utf8): profile.virtualIOMMU = true
        case Array("off".utf8): profile.virtualIOMMU = false
        default: return .failure(.invalidValue(word.key))
        }
      case Array("edu".utf8):
        switch value {
        case Array("on".utf8): profile.eduDevice = true
        case Array("off".utf8): profile.eduDevice = false
        default: return .failure(.invalidValue(word.key))
        }
      default:
        return .failure(.unknownKey(word.key))
      }
    }
    guard !profile.name.isEmpty else { return .failure(.missingName) }
    if let pinned = profile.pinnedCPUs, pinned.count != profile.vcpuCount {
      return .failure(.pinCountMismatch)
    }
    profile.guestCommandLine = guestCommandLine
    // An operating system probes for hardware it may not have: give it the architectural
    // answer unless the profile says otherwise (docs/guest-abi.md).
    if profile.kind != .flat && !unmappedGiven { profile.unmapped = .ignore }
    return .success(profile)
  }

  /// Checks the profile against the image it will run: the image must fit in the VM's
  /// memory at the load address, and the real-mode entry point must lie inside it.
  public func validate(imageSize: UInt64) -> VMProfileError? {
    guard imageSize > 0 else { return .emptyImage }
    if kind != .flat { return nil }  // the Linux and multiboot loaders check their images
    guard loadAddress < memorySize, imageSize <= memorySize - loadAddress else {
      return .imageDoesNotFit
    }
    let entry = UInt64(entrySegment) << 4 + UInt64(entryOffset)
    guard entry >= loadAddress, entry < loadAddress + imageSize else { return .entryOutsideImage }
    return nil
  }

  /// Where " -- " starts in `line`, if anywhere.
  static func separatorIndex(in line: [UInt8]) -> Int? {
    let separator: [UInt8] = [0x20, 0x2D, 0x2D, 0x20]
    guard line.count >= separator.count else { return nil }
    for start in 0...(line.count - separator.count)
    where line[start..<start + 4].elementsEqual(separator) {
      return start
    }
    return nil
  }

  static func isNameCharacter(_ c: UInt8) -> Bool {
    switch c {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
      UInt8(ascii: "."):
      return true
    default: return false
    }
  }

  /// "0,2,4,6": CPU numbers separated by commas, none empty, each at most
  /// `maximumCPUIndex`, at most `maximumVCPUs` of them. Repeats are left to placement,
  /// which names the CPU in its refusal.
  static func parseCPUList(_ text: [UInt8]) -> [Int]? {
    var cpus: [Int] = []
    var start = 0
    while start <= text.count {
      var end = start
      while end < text.count && text[end] != UInt8(ascii: ",") { end += 1 }
      guard cpus.count < maximumVCPUs, let cpu = parseNumber(Array(text[start..<end])),
        cpu <= UInt64(maximumCPUIndex)
      else { return nil }
      cpus.append(Int(cpu))
      start = end + 1
    }
    return cpus
  }

  /// "16M", "512K", "1G", "4096", "0x100000".
  static func parseSize(_ text: [UInt8]) -> UInt64? {
    guard let last = text.last else { return nil }
    let shift: UInt64
    switch last {
    case UInt8(ascii: "K"), UInt8(ascii: "k"): shift = 10
    case UInt8(ascii: "M"), UInt8(ascii: "m"): shift = 20
    case UInt8(ascii: "G"), UInt8(ascii: "g"): shift = 30
    default: return parseNumber(text)
    }
    guard let number = parseNumber(Array(text.dropLast())), number <= UInt64.max >> shift else {
      return nil
    }
    return number << shift
  }

  /// Decimal, or hexadecimal with a 0x prefix.
  static func parseNumber(_ text: [UInt8]) -> UInt64? {
    if text.count > 2 && text[0] == UInt8(ascii: "0") && (text[1] | 0x20) == UInt8(ascii: "x") {
      return parseHex(text[2...])
    }
    guard !text.isEmpty, text.count <= 19 else { return nil }
    var value: UInt64 = 0
    for c in text {
      guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
      value = value * 10 + UInt64(c - UInt8(ascii: "0"))
    }
    return value
  }

  static func parseHex(_ text: ArraySlice<UInt8>) -> UInt64? {
    guard !text.isEmpty, text.count <= 16 else { return nil }
    var value: UInt64 = 0
    for c in text {
      let digit: UInt8
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt64(digit)
    }
    return value
  }
}

public enum VMProfileError: Error, Equatable {
  case notAProfile
  case missingName
  case invalidName
  case missingValue([UInt8])
  case invalidValue([UInt8])
  case unknownKey([UInt8])
  case repeatedKey([UInt8])
  case emptyImage
  case imageDoesNotFit
  case entryOutsideImage
  /// pin= lists a different number of CPUs than cpus= gives vCPUs.
  case pinCountMismatch

  public var message: StaticString {
    switch self {
    case .notAProfile: return "the module command line does not start with 'vm'"
    case .missingName: return "the profile has no name=..."
    case .invalidName: return "the name must be 1-31 characters of A-Z a-z 0-9 - _ ."
    case .missingValue: return "a key has no value (key=value expected)"
    case .invalidValue: return "a value is out of range or malformed"
    case .unknownKey: return "unknown key in the profile"
    case .repeatedKey: return "a key is given more than once"
    case .emptyImage: return "the guest image is empty"
    case .imageDoesNotFit:
      return "the guest image does not fit in the VM's memory at its load address"
    case .entryOutsideImage: return "the entry point lies outside the loaded image"
    case .pinCountMismatch: return "pin= must list one CPU per vCPU (as many as cpus=)"
    }
  }

  /// The key the error is about, if any.
  public var key: [UInt8]? {
    switch self {
    case .missingValue(let key), .invalidValue(let key), .unknownKey(let key),
      .repeatedKey(let key):
      return key
    case .pinCountMismatch: return Array("pin".utf8)
    default: return nil
    }
  }
}

/// Splits a command line into space-separated `key=value` words.
struct ProfileWords {
  private let line: [UInt8]
  private var position = 0

  init(_ line: [UInt8]) { self.line = line }

  mutating func next() -> (key: [UInt8], value: [UInt8]?)? {
    while position < line.count && line[position] == UInt8(ascii: " ") { position += 1 }
    guard position < line.count else { return nil }
    let start = position
    while position < line.count && line[position] != UInt8(ascii: " ") { position += 1 }
    let word = line[start..<position]
    if let equals = word.firstIndex(of: UInt8(ascii: "=")) {
      return (Array(word[..<equals]), Array(word[(equals + 1)...]))
    }
    return (Array(word), nil)
  }
}
