/// One entry of the BIOS-style memory map in the zero page, `struct boot_e820_entry`:
/// u64 addr, u64 size, u32 type (Documentation/arch/x86/zero-page.rst, e820_table at 0x2D0).
public struct LinuxE820Entry: Equatable, Sendable {
  /// Type 1, E820_TYPE_RAM: usable memory.
  public static let usable: UInt32 = 1
  /// Type 2, E820_TYPE_RESERVED: not for the OS (BIOS area, ACPI tables here, devices).
  public static let reserved: UInt32 = 2

  public var address: UInt64
  public var size: UInt64
  public var type: UInt32

  public init(address: UInt64, size: UInt64, type: UInt32) {
    self.address = address
    self.size = size
    self.type = type
  }

  public var range: PhysicalRange { PhysicalRange(start: address, end: address + size) }
}

/// The e820 map a Linux guest sees: exactly its RAM and its devices.
public enum LinuxE820Table {
  /// Entries the zero page holds (E820_MAX_ENTRIES_ZEROPAGE).
  public static let capacity = LinuxZeroPage.e820Capacity

  /// Usable [0, 0x9FC00); reserved [0x9FC00, 1 MiB) for the EBDA, VGA hole and BIOS area,
  /// which also holds the ACPI tables at 0xE0000; usable [1 MiB, ramSize); then a reserved
  /// entry per device range, in address order.
  public static func entries(ramSize: UInt64, devices: [PhysicalRange])
    throws(LinuxLayoutError) -> [LinuxE820Entry]
  {
    let low = LinuxGuestLayout.lowMemoryEnd
    let high = LinuxGuestLayout.highMemoryStart
    guard ramSize >= high else { throw .ramTooSmall }
    let occupied = PhysicalRange(start: 0, end: ramSize)
    var result = [
      LinuxE820Entry(address: 0, size: low, type: LinuxE820Entry.usable),
      LinuxE820Entry(address: low, size: high - low, type: LinuxE820Entry.reserved),
    ]
    if ramSize > high {
      result.append(
        LinuxE820Entry(address: high, size: ramSize - high, type: LinuxE820Entry.usable))
    }
    for device in devices.sorted(by: { $0.start < $1.start }) where device.size > 0 {
      guard !device.overlaps(occupied) else { throw .deviceOverlapsRAM }
      result.append(
        LinuxE820Entry(address: device.start, size: device.size, type: LinuxE820Entry.reserved))
    }
    guard result.count <= capacity else { throw .tooManyMemoryRegions }
    return result
  }
}
