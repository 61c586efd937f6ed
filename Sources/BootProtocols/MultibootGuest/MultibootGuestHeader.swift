/// A multiboot guest image's header: version 1 (Multiboot 0.6.96 §3.1.1-3.1.3) or version 2
/// (Multiboot2 2.0 §3.1.1-3.1.12), reduced to what loading needs.
public struct MultibootGuestHeader: Equatable, Sendable {
  public enum Version: Equatable, Sendable { case v1, v2 }

  /// The a.out kludge (v1 flag 16, v2 address tag, §3.1.3 / §3.1.5): where the image's
  /// bytes go when it is not loaded as an ELF.
  public struct AddressFields: Equatable, Sendable {
    public var headerAddress: UInt32
    public var loadAddress: UInt32
    /// 0: load to the end of the file.
    public var loadEndAddress: UInt32
    /// 0: no bss.
    public var bssEndAddress: UInt32
  }

  public var version: Version
  /// The header's offset in the image file.
  public var offset: Int
  public var addressFields: AddressFields?
  /// v1 entry_addr (with the address fields) or the v2 entry address tag.
  public var entryAddress: UInt32?

  public static let v1Magic: UInt32 = 0x1BAD_B002
  public static let v2Magic: UInt32 = 0xE852_50D6
  /// Where each header must lie, and its alignment (§3.1.1 of each spec).
  static let v1SearchLimit = 8192
  static let v2SearchLimit = 32768

  /// v1 flags (§3.1.2): 0 page-align modules, 1 memory information, 2 video mode table (a
  /// request this loader answers with text mode, as the spec allows); 16 address fields.
  /// Bits 0-15 are requirements, bits 16-31 are optional.
  static let v1KnownRequiredFlags: UInt32 = 0b111
  static let v1AddressFieldsFlag: UInt32 = 1 << 16

  /// v2 information request types this loader gives (§3.6): command line 1, loader name 2,
  /// modules 3, basic memory 4, memory map 6, ACPI old RSDP 14, ACPI new RSDP 15.
  static let v2GivenInformation: [UInt32] = [1, 2, 3, 4, 6, 14, 15]

  init(version: Version, offset: Int, addressFields: AddressFields?, entryAddress: UInt32?) {
    self.version = version
    self.offset = offset
    self.addressFields = addressFields
    self.entryAddress = entryAddress
  }

  /// Finds and checks the header: v2 first (a kernel carrying both wants its v2 entry, as
  /// GRUB's `multiboot2` command picks it), then v1.
  public init(parsing bytes: UnsafeRawBufferPointer) throws(MultibootGuestError) {
    let image = ImageBytes(bytes: bytes)
    if let offset = Self.find(Self.v2Magic, in: image, limit: Self.v2SearchLimit, alignment: 8) {
      self = try Self.parseV2(image, at: offset)
    } else if let offset = Self.find(
      Self.v1Magic, in: image, limit: Self.v1SearchLimit, alignment: 4)
    {
      self = try Self.parseV1(image, at: offset)
    } else {
      throw .noHeader
    }
  }

  static func find(_ magic: UInt32, in image: ImageBytes, limit: Int, alignment: Int) -> Int? {
    var offset = 0
    while offset + 12 <= min(image.count, limit) {
      if image.u32(at: offset) == magic { return offset }
      offset += alignment
    }
    return nil
  }

  static func parseV1(_ image: ImageBytes, at offset: Int) throws(MultibootGuestError) -> Self {
    guard let flags = image.u32(at: offset + 4), let checksum = image.u32(at: offset + 8) else {
      throw .noHeader
    }
    guard v1Magic &+ flags &+ checksum == 0 else { throw .badChecksum }
    let unknown = flags & 0xFFFF & ~v1KnownRequiredFlags
    guard unknown == 0 else { throw .unknownRequiredFlags(unknown) }
    var header = Self(version: .v1, offset: offset, addressFields: nil, entryAddress: nil)
    if flags & v1AddressFieldsFlag != 0 {
      guard let fields = addressFields(image, at: offset + 12),
        let entry = image.u32(at: offset + 28)
      else { throw .segmentOutsideFile }
      header.addressFields = fields
      header.entryAddress = entry
    }
    return header
  }

  static func addressFields(_ image: ImageBytes, at offset: Int) -> AddressFields? {
    guard let header = image.u32(at: offset), let load = image.u32(at: offset + 4),
      let loadEnd = image.u32(at: offset + 8), let bssEnd = image.u32(at: offset + 12)
    else { return nil }
    return AddressFields(
      headerAddress: header, loadAddress: load, loadEndAddress: loadEnd, bssEndAddress: bssEnd)
  }

  /// v2 tag types (§3.1.4-3.1.12).
  enum Tag {
    static let end: UInt16 = 0
    static let informationRequest: UInt16 = 1
    static let address: UInt16 = 2
    static let entryAddress: UInt16 = 3
    static let consoleFlags: UInt16 = 4
    static let framebuffer: UInt16 = 5
    static let moduleAlignment: UInt16 = 6
    static let relocatable: UInt16 = 10
    /// Bit 0 of a tag's flags: the image boots without it.
    static let optional: UInt16 = 1
  }

  static func parseV2(_ image: ImageBytes, at offset: Int) throws(MultibootGuestError) -> Self {
    guard let architecture = image.u32(at: offset + 4), let length = image.u32(at: offset + 8),
      let checksum = image.u32(at: offset + 12)
    else { throw .malformedHeader }
    guard v2Magic &+ architecture &+ length &+ checksum == 0 else { throw .badChecksum }
    guard architecture == 0 else { throw .unsupportedArchitecture(architecture) }
    guard length >= 16 + 8, UInt64(offset) + UInt64(length) <= UInt64(image.count) else {
      throw .malformedHeader
    }
    let end = offset + Int(length)
    var header = Self(version: .v2, offset: offset, addressFields: nil, entryAddress: nil)
    var position = offset + 16
    while true {
      guard position + 8 <= end, let type = image.u16(at: position),
        let flags = image.u16(at: position + 2), let size = image.u32(at: position + 4),
        size >= 8, UInt64(position) + UInt64(size) <= UInt64(end)
      else { throw .malformedHeader }
      let optional = flags & Tag.optional != 0
      switch type {
      case Tag.end:
        return header
      case Tag.informationRequest:
        var request = position + 8
        while request + 4 <= position + Int(size) {
          let wanted = image.u32(at: request) ?? 0
          if !optional && !v2GivenInformation.contains(wanted) {
            throw .unsupportedInformationRequest(wanted)
          }
          request += 4
        }
      case Tag.address:
        guard size >= 24, let fields = addressFields(image, at: position + 8) else {
          throw .malformedHeader
        }
        header.addressFields = fields
      case Tag.entryAddress:
        guard size >= 12, let entry = image.u32(at: position + 8) else { throw .malformedHeader }
        header.entryAddress = entry
      case Tag.consoleFlags, Tag.moduleAlignment, Tag.relocatable:
        // Console: the serial port is the console. Modules are page-aligned anyway. A
        // relocatable image is loaded at its preferred addresses.
        break
      default:
        // A framebuffer, EFI boot services or EFI entry points: none exist here.
        if !optional { throw .unsupportedRequiredTag(type) }
      }
      position += (Int(size) + 7) & ~7
    }
  }
}
