/// Where everything of a multiboot guest goes in its memory, checked before anything is
/// copied:
///
///     0x10000   a flat GDT (null, code 0x08, data 0x10), then the boot information
///               (v1 multiboot_info or v2 tags) with its memory map and strings, to 0x8FFFF
///     0x9FC00   reserved to 1 MiB (EBDA, VGA, BIOS area); the ACPI tables at 0xE0000
///     segments  where the image asks (ELF p_paddr, or the address fields)
///     modules   page-aligned, after the highest segment (and at least at 1 MiB)
///
/// A segment outside the VM's memory or over the information or BIOS areas is refused.
public struct MultibootGuestLayout: Equatable, Sendable {
  public static let gdtAddress: UInt64 = 0x1_0000
  public static let informationAddress: UInt64 = 0x1_0100
  public static let informationEnd: UInt64 = 0x9_0000
  public static let lowMemoryEnd: UInt64 = 0x9_FC00
  public static let highMemoryStart: UInt64 = 0x10_0000
  public static let acpiTablesAddress: UInt64 = 0xE_0000
  /// The I/O APIC's page, the lowest device page: RAM must end below it.
  public static let devicesStart: UInt64 = 0xFEC0_0000
  public static let devices = [
    PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000),
    PhysicalRange(start: 0xFEE0_0000, end: 0xFEE0_1000),
  ]
  static let pageSize: UInt64 = 4096

  /// A module for the guest: its size, and the string the guest sees with it.
  public struct Module: Equatable, Sendable {
    public var size: UInt64
    public var string: [UInt8]
    public init(size: UInt64, string: [UInt8]) {
      self.size = size
      self.string = string
    }
  }

  public var ramSize: UInt64
  /// Where each module is copied, in order.
  public var moduleRanges: [PhysicalRange]
  /// The memory map both versions report.
  public var memoryMap: [LinuxE820Entry]

  public init(ramSize: UInt64, image: MultibootGuestImage, modules: [Module])
    throws(MultibootGuestError)
  {
    guard ramSize <= Self.devicesStart else { throw .memoryOverlapsDevices }
    var highest = Self.highMemoryStart
    for segment in image.segments {
      guard segment.end <= ramSize else { throw .segmentOutsideMemory }
      guard !segment.overlaps(Self.gdtAddress, Self.informationEnd) else {
        throw .segmentOverlapsInformation
      }
      guard !segment.overlaps(Self.lowMemoryEnd, Self.highMemoryStart) else {
        throw .segmentOverlapsFirmware
      }
      highest = max(highest, segment.end)
    }
    self.ramSize = ramSize
    moduleRanges = []
    var next = (highest + Self.pageSize - 1) & ~(Self.pageSize - 1)
    for module in modules {
      guard next <= ramSize, module.size <= ramSize - next else { throw .modulesDoNotFit }
      moduleRanges.append(PhysicalRange(start: next, end: next + module.size))
      next = (next + module.size + Self.pageSize - 1) & ~(Self.pageSize - 1)
    }
    var map = [
      LinuxE820Entry(address: 0, size: Self.lowMemoryEnd, type: LinuxE820Entry.usable),
      LinuxE820Entry(
        address: Self.lowMemoryEnd, size: Self.highMemoryStart - Self.lowMemoryEnd,
        type: LinuxE820Entry.reserved),
    ]
    if ramSize > Self.highMemoryStart {
      map.append(
        LinuxE820Entry(
          address: Self.highMemoryStart, size: ramSize - Self.highMemoryStart,
          type: LinuxE820Entry.usable))
    }
    for device in Self.devices {
      map.append(
        LinuxE820Entry(address: device.start, size: device.size, type: LinuxE820Entry.reserved))
    }
    memoryMap = map
  }

  /// mem_lower and mem_upper in KiB (v1 §3.3, v2 §3.6.8): memory below 640 KiB, and from
  /// 1 MiB to the first hole.
  public var lowerMemoryKiB: UInt32 { UInt32(Self.lowMemoryEnd / 1024) }
  public var upperMemoryKiB: UInt32 {
    ramSize > Self.highMemoryStart ? UInt32((ramSize - Self.highMemoryStart) / 1024) : 0
  }

  /// The GDT the guest enters with (the spec leaves GDTR undefined; a kernel that reloads a
  /// segment register before its own LGDT still finds flat segments here).
  public static var gdt: [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 8)
    bytes.appendLittleEndian(UInt64(0x00CF_9B00_0000_FFFF))  // 0x08: code, base 0, 4 GiB, 32-bit
    bytes.appendLittleEndian(UInt64(0x00CF_9300_0000_FFFF))  // 0x10: data, base 0, 4 GiB
    return bytes
  }
}
