/// The MCFG table (PCI Firmware 3.0 §4.1.2, Table 4-2/4-3): 8 reserved bytes after the
/// header, then one allocation per ECAM range: base address, segment group, first and last
/// bus, 4 reserved bytes.
enum GuestMCFG {
  static let signature: [UInt8] = Array("MCFG".utf8)
  static let revision: UInt8 = 1

  static func make(_ bridge: GuestPCIHostBridge) -> [UInt8] {
    var body = [UInt8](repeating: 0, count: 8)
    body.appendLittleEndian(bridge.ecamBase)
    body.appendLittleEndian(UInt16(0))  // segment group 0
    body += [bridge.firstBus, bridge.lastBus, 0, 0, 0, 0]
    return GuestACPITable.make(signature: signature, revision: revision, body: body)
  }
}
