/// The GDT the 64-bit boot protocol requires: "a GDT must be loaded with the descriptors
/// for selectors __BOOT_CS(0x10) and __BOOT_DS(0x18); both descriptors must be 4G flat
/// segment; __BOOT_CS must have execute/read permission, and __BOOT_DS must have
/// read/write permission" (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol").
public enum LinuxBootGDT {
  /// __BOOT_CS: GDT entry 2.
  public static let codeSelector: UInt16 = 0x10
  /// __BOOT_DS: GDT entry 3.
  public static let dataSelector: UInt16 = 0x18
  /// 64-bit code: base 0, limit 0xFFFFF, G=1, L=1, D=0, P=1, DPL 0, type 0xB
  /// (execute/read, accessed), as Linux's own boot GDT but with the accessed bit preset.
  public static let codeDescriptor: UInt64 = 0x00AF_9B00_0000_FFFF
  /// Flat data: base 0, limit 0xFFFFF, G=1, D/B=1, P=1, DPL 0, type 0x3 (read/write, accessed).
  public static let dataDescriptor: UInt64 = 0x00CF_9300_0000_FFFF

  /// Null, null, __BOOT_CS, __BOOT_DS: 32 bytes to copy to `LinuxGuestLayout.gdtAddress`.
  public static var bytes: [UInt8] {
    var table: [UInt8] = []
    for descriptor in [0, 0, codeDescriptor, dataDescriptor] as [UInt64] {
      table.appendLittleEndian(descriptor)
    }
    return table
  }

  /// The GDTR limit: the table's size minus one.
  public static let limit: UInt16 = 4 * 8 - 1
}

/// A segment register's hidden state as the boot GDT defines it, for loading into a VMCS or
/// VMCB directly.
public struct LinuxSegment: Equatable, Sendable {
  public var selector: UInt16
  public var base: UInt64
  /// The byte-granular limit: 4 GiB - 1 for the flat boot segments.
  public var limit: UInt32
  /// Descriptor bits 47:40 (type, S, DPL, P) in bits 7:0 and bits 55:52 (AVL, L, D/B, G) in
  /// bits 15:12: the VMX access-rights layout (Intel SDM Vol. 3C §25.4.1).
  public var accessRights: UInt16

  public init(selector: UInt16, base: UInt64, limit: UInt32, accessRights: UInt16) {
    self.selector = selector
    self.base = base
    self.limit = limit
    self.accessRights = accessRights
  }

  /// The flat segment `descriptor` gives, loaded through `selector`.
  public init(selector: UInt16, descriptor: UInt64) {
    let access = UInt16(truncatingIfNeeded: descriptor >> 40) & 0xFF
    let flags = UInt16(truncatingIfNeeded: descriptor >> 52) & 0xF
    self.init(selector: selector, base: 0, limit: 0xFFFF_FFFF, accessRights: access | flags << 12)
  }

  /// The same bits packed as the VMCB attribute field: bits 7:0 then 11:8 (AMD APM Vol. 2
  /// §15.5.1, "Segment State in the VMCB").
  public var svmAttributes: UInt16 { accessRights & 0xFF | (accessRights >> 4) & 0xF00 }
}
