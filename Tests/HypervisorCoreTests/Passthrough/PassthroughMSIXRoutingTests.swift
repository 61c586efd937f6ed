import XCTest

@testable import HypervisorCore

/// The device's real MSI-X table under passthrough (docs/passthrough.md, "MSI-X to the
/// guest's vectors"): the node's messages in it, every entry masked until the guest's view
/// unmasks it, and the guest's message sent when the node vector of an entry fires.
final class PassthroughMSIXRoutingTests: XCTestCase {
  private final class Host: PassthroughHostAccess {
    var writes: [(bar: Int, offset: UInt64, size: UInt8, value: UInt64)] = []
    /// What the device's pending-bit array reads (BAR1 offset 0x800).
    var realPending: UInt64 = 0
    func readMMIO(bar: Int, offset: UInt64, size: UInt8) -> UInt64 {
      bar == 1 && offset == 0x800 ? realPending : 0
    }
    func writeMMIO(bar: Int, offset: UInt64, size: UInt8, value: UInt64) {
      writes.append((bar, offset, size, value))
    }
    func setCommand(memorySpace: Bool, busMaster: Bool) {}
    /// The last value written to each real entry's vector control (nil: never written).
    func control(_ entry: Int) -> UInt64? {
      writes.last { $0.bar == 1 && $0.offset == UInt64(entry) * 16 + 12 }?.value
    }
  }

  private final class Messages: MessageSignaledInterruptSink {
    var sent: [(address: UInt64, data: UInt32)] = []
    func signal(address: UInt64, data: UInt32) { sent.append((address, data)) }
  }

  /// QEMU's modern virtio-net: MSI-X with 3 entries, table at BAR1 + 0, PBA at BAR1 + 0x800
  /// (the guest finds BAR1 at 0xC0004000, after the 16 KiB BAR4).
  private func attached(entries: Int = 3) throws -> (
    PassthroughPCIFunction, Host, PCIPlatform, Messages
  ) {
    let host = Host()
    let function = PassthroughPCIFunction(
      host: try XCTUnwrap(PassthroughFunction(bus: 0, device: 0x11, function: 0)),
      description: PassthroughHostDescription(
        vendorID: 0x1AF4, deviceID: 0x1041, classCode: 0x02, subclass: 0x00,
        bars: [
          nil, .init(VirtualBAR(.memory32, size: 0x1000), hostAddress: 0xFEBD_1000), nil, nil,
          .init(VirtualBAR(.memory64, size: 0x4000), hostAddress: 0xFE00_0000), nil,
        ],
        msix: .init(
          tableSize: entries, tableBAR: 1, tableOffset: 0, pendingBAR: 1, pendingOffset: 0x800)),
      access: host)
    let platform = PCIPlatform(vcpus: [], ioAPIC: nil)
    XCTAssertEqual(try platform.attach(function).get().slot, 1)
    let messages = Messages()
    function.connectInterrupts(messages, intx: nil)
    return (function, host, platform, messages)
  }

  private func setControl(
    _ platform: PCIPlatform, _ function: PassthroughPCIFunction, _ value: UInt32
  )
    throws
  {
    let offset = try XCTUnwrap(function.msixCapability) + 2
    _ = platform.bus.write(port: 0xCF8, size: 4, value: 0x8000_0800 | UInt32(offset & 0xFC))
    _ = platform.bus.write(port: 0xCFC + UInt16(offset & 3), size: 2, value: value)
  }

  /// The guest programs entry `entry` with its own message (address, data), unmasked.
  private func program(_ platform: PCIPlatform, entry: Int, data: UInt32, masked: Bool = false) {
    let base = 0xC000_4000 + UInt64(entry) * 16
    _ = platform.bus.writeMemory(address: base, size: 4, value: 0xFEE0_0000)
    _ = platform.bus.writeMemory(address: base + 4, size: 4, value: 0)
    _ = platform.bus.writeMemory(address: base + 8, size: 4, value: UInt64(data))
    _ = platform.bus.writeMemory(address: base + 12, size: 4, value: masked ? 1 : 0)
  }

  func testTheRealTableGetsTheNodesMessagesAllMasked() throws {
    let (function, host, _, _) = try attached()
    function.routeHostVectors([(0xFEE0_0000, 0x48), (0xFEE0_0000, 0x49), (0xFEE0_0000, 0x4A)])
    XCTAssertEqual(function.hostRoutedEntries, 3)
    for entry in 0..<3 {
      let base = UInt64(entry) * 16
      let words = host.writes.filter { $0.bar == 1 && $0.offset >= base && $0.offset < base + 16 }
      XCTAssertEqual(words.first?.offset, base + 12, "masked before its message is written")
      XCTAssertEqual(words.first?.value, 1)
      XCTAssertEqual(words.first { $0.offset == base }?.value, 0xFEE0_0000)
      XCTAssertEqual(words.first { $0.offset == base + 4 }?.value, 0)
      XCTAssertEqual(words.first { $0.offset == base + 8 }?.value, 0x48 + UInt64(entry))
      XCTAssertEqual(host.control(entry), 1, "still masked: the guest has not unmasked it")
    }
    XCTAssertEqual(function.hostMaskWrites, 0)
  }

  func testEntriesPastTheRoutedOnesStayMasked() throws {
    let (function, host, platform, _) = try attached()
    function.routeHostVectors([(0xFEE0_0000, 0x48), (0xFEE0_0000, 0x49)])
    XCTAssertEqual(function.hostRoutedEntries, 2)
    XCTAssertNil(host.writes.first { $0.offset == 32 + 8 }, "entry 2 gets no node message")
    try setControl(platform, function, 0x8000)
    for entry in 0..<3 { program(platform, entry: entry, data: 0x60 + UInt32(entry)) }
    XCTAssertEqual(host.control(0), 0)
    XCTAssertEqual(host.control(1), 0)
    XCTAssertEqual(host.control(2), 1, "no node vector: never unmasked in the device")
  }

  func testGuestMasksReachTheRealTable() throws {
    let (function, host, platform, _) = try attached()
    function.routeHostVectors([(0xFEE0_0000, 0x48), (0xFEE0_0000, 0x49), (0xFEE0_0000, 0x4A)])
    // Unmasked entries while MSI-X is disabled: the device's entries stay masked.
    program(platform, entry: 1, data: 0x61)
    XCTAssertEqual(host.control(1), 1)
    XCTAssertEqual(function.hostMaskWrites, 0)
    try setControl(platform, function, 0x8000)  // enable
    XCTAssertEqual(host.control(1), 0, "enabled and unmasked: unmasked in the device")
    XCTAssertEqual(host.control(0), 1)
    XCTAssertEqual(host.control(2), 1)
    try setControl(platform, function, 0xC000)  // function mask
    XCTAssertEqual(host.control(1), 1)
    try setControl(platform, function, 0x8000)
    XCTAssertEqual(host.control(1), 0)
    _ = platform.bus.writeMemory(address: 0xC000_401C, size: 4, value: 1)  // mask entry 1
    XCTAssertEqual(host.control(1), 1)
    // An 8-byte write of data and control unmasks too.
    _ = platform.bus.writeMemory(address: 0xC000_4018, size: 8, value: 0x61)
    XCTAssertEqual(host.control(1), 0)
    let writes = function.hostMaskWrites
    program(platform, entry: 1, data: 0x62)  // the same mask again: no device write
    XCTAssertEqual(function.hostMaskWrites, writes)
    try setControl(platform, function, 0)  // disable
    XCTAssertEqual(host.control(1), 1)
  }

  func testAnInterruptWhileMaskedIsPendingAndSentOnUnmask() throws {
    let (function, _, platform, messages) = try attached()
    function.routeHostVectors([(0xFEE0_0000, 0x48), (0xFEE0_0000, 0x49), (0xFEE0_0000, 0x4A)])
    try setControl(platform, function, 0x8000)
    program(platform, entry: 0, data: 0x41)
    program(platform, entry: 2, data: 0x43, masked: true)
    function.deliver(entry: 0)
    XCTAssertEqual(messages.sent.count, 1)
    XCTAssertEqual(messages.sent.last?.data, 0x41)
    // Entry 2 masked (PCI 3.0 §6.8.2.9): held, its pending bit set, nothing sent.
    function.deliver(entry: 2)
    XCTAssertEqual(messages.sent.count, 1)
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_4800, size: 4), 0b100)
    XCTAssertEqual(function.held, 1)
    _ = platform.bus.writeMemory(address: 0xC000_402C, size: 4, value: 0)  // unmask
    XCTAssertEqual(messages.sent.count, 2, "sent on unmask")
    XCTAssertEqual(messages.sent.last?.data, 0x43)
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_4800, size: 4), 0)
    // Function mask: held too, sent when the function is unmasked, once.
    try setControl(platform, function, 0xC000)
    function.deliver(entry: 0)
    function.deliver(entry: 0)
    XCTAssertEqual(messages.sent.count, 2)
    try setControl(platform, function, 0x8000)
    XCTAssertEqual(messages.sent.count, 3, "one pending bit: one message")
    XCTAssertEqual(function.delivered, 3)
  }

  func testTheDevicesOwnPendingBitsShowInTheGuestsArray() throws {
    let (function, host, platform, _) = try attached()
    host.realPending = 0xFFFF_FFFF
    XCTAssertEqual(
      platform.bus.readMemory(address: 0xC000_4800, size: 4), 0,
      "not routed: the device's bits are not the guest's")
    function.routeHostVectors([(0xFEE0_0000, 0x48), (0xFEE0_0000, 0x49)])
    host.realPending = 0b110
    XCTAssertEqual(
      platform.bus.readMemory(address: 0xC000_4800, size: 4), 0b010,
      "entry 1 pending in the device; entry 2 has no node vector")
  }
}
