/// Erasing a VF's namespace between two owners (docs/passthrough.md, "Wipe between
/// owners"): Format NVM (NVM Express 1.4 §5.23) of that namespace with its current LBA
/// format and Secure Erase Settings 1h (user data erase), sent by the node through the
/// PF's admin queue once the namespace is attached to the PF's own controller (a Format
/// names a namespace attached to the controller that runs it; QEMU 7.2 `nvme_format`
/// answers Invalid Field otherwise). QEMU 7.2 ignores SES and writes zeroes over the whole
/// namespace (`nvme_format_ns_cb`, `blk_aio_pwrite_zeroes`); a real device erases as SES
/// says. Encoding and parsing only: the kernel's polled admin queue moves them.
public enum NVMeNamespaceErase {
  public static let formatOpcode: UInt8 = 0x80
  /// Identify CNS 00h: the Identify Namespace data structure of the command's NSID.
  public static let identifyNamespace: UInt8 = 0x00
  /// SES 1h, user data erase (CDW10 11:9).
  public static let userDataErase: UInt32 = 1

  /// Format NVM of `namespace` with LBA format `format` (CDW10 3:0, its upper bits 13:12
  /// in 2.0; 0-15 here), no metadata or protection change (MSET, PI, PIL 0), SES 1h.
  public static func format(namespace: UInt32, lbaFormat: UInt8, id: UInt16) -> [UInt32] {
    NVMeAdmin.command(
      opcode: formatOpcode, id: id, namespace: namespace,
      cdw10: UInt32(lbaFormat & 0xF) | userDataErase << 9)
  }

  /// The LBA format index in use (FLBAS 3:0, byte 26 of Identify Namespace, §5.15.2.1) and
  /// the namespace's size in blocks (NSZE, bytes 7:0); nil when fewer than 27 bytes.
  public static func currentFormat(_ identifyNamespace: [UInt8]) -> (
    lbaFormat: UInt8, blocks: UInt64
  )? {
    guard identifyNamespace.count >= 27 else { return nil }
    var blocks: UInt64 = 0
    for index in (0..<8).reversed() { blocks = blocks << 8 | UInt64(identifyNamespace[index]) }
    return (identifyNamespace[26] & 0xF, blocks)
  }
}
