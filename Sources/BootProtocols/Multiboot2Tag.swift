extension Multiboot2 {
  /// One tag's header, already checked to lie inside the block (§3.6.2).
  struct Tag {
    var type: UInt32
    /// Offset of the tag header from the start of the block.
    var offset: Int
    /// The tag's `size` field: header plus body, excluding alignment padding.
    var size: Int

    var bodyStart: Int { offset + Multiboot2.headerSize }
    var end: Int { offset + size }
    var bodySize: Int { size - Multiboot2.headerSize }

    /// Rejects tags too short to hold their fixed fields.
    func require(bodyBytes: Int) throws(Multiboot2Error) {
      guard bodySize >= bodyBytes else {
        throw .tagTooShort(type: type, offset: UInt32(offset), size: UInt32(size))
      }
    }
  }
}
