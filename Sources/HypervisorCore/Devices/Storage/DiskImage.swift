/// A VM's virtual disk: its image held in node memory for the VM's life. The bytes are the
/// hypervisor's, never mapped into the guest: a block device model copies between them and
/// the guest's buffers, and `save` reads them back to the host's image store.
public final class DiskImage {
  /// The image's name in the node's store (the transfer that brought it).
  public let name: [UInt8]
  public let bytes: UnsafeMutableRawBufferPointer

  public init(name: [UInt8], bytes: UnsafeMutableRawBufferPointer) {
    self.name = name
    self.bytes = bytes
  }

  /// The disk's size in bytes.
  public var size: UInt64 { UInt64(bytes.count) }
}
