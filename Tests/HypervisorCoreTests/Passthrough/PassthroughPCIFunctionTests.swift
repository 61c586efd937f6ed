import XCTest

@testable import HypervisorCore

private final class FakeHost: PassthroughHostAccess {
  var reads: [(bar: Int, offset: UInt64, size: UInt8)] = []
  var writes: [(bar: Int, offset: UInt64, size: UInt8, value: UInt64)] = []
  var commands: [(memory: Bool, busMaster: Bool)] = []

  func readMMIO(bar: Int, offset: UInt64, size: UInt8) -> UInt64 {
    reads.append((bar, offset, size))
    return 0x1234
  }

  func writeMMIO(bar: Int, offset: UInt64, size: UInt8, value: UInt64) {
    writes.append((bar, offset, size, value))
  }

  func setCommand(memorySpace: Bool, busMaster: Bool) {
    commands.append((memorySpace, busMaster))
  }
}

private final class PageModel: PassthroughBARInterposer {
  let bar = 4
  let pages: Range<UInt64> = 0..<0x1000
  var writes: [(offset: UInt64, value: UInt64)] = []
  func read(offset: UInt64, size: UInt8) -> UInt64 { offset == 0x28 ? 0xABCD : 0 }
  func write(offset: UInt64, size: UInt8, value: UInt64) { writes.append((offset, value)) }
}

private final class Messages: MessageSignaledInterruptSink {
  var sent: [(address: UInt64, data: UInt32)] = []
  func signal(address: UInt64, data: UInt32) { sent.append((address, data)) }
}

final class PassthroughPCIFunctionTests: XCTestCase {
  /// QEMU's modern virtio-net (1af4:1041) as `lspci -vv` shows it under q35: BAR1 4 KiB
  /// (MSI-X table at 0, PBA at 0x800), BAR4 16 KiB 64-bit prefetchable (the virtio
  /// structures), five vendor capabilities, MSI-X with 3 entries.
  private func virtioNet() -> PassthroughHostDescription {
    PassthroughHostDescription(
      vendorID: 0x1AF4, deviceID: 0x1041, classCode: 0x02, subclass: 0x00, revision: 1,
      subsystemVendorID: 0x1AF4, subsystemID: 0x1100,
      bars: [
        nil, .init(VirtualBAR(.memory32, size: 0x1000), hostAddress: 0xFEBD_1000), nil, nil,
        .init(
          VirtualBAR(.memory64, size: 0x4000, prefetchable: true), hostAddress: 0xFE00_0000),
        nil,
      ],
      vendorCapabilities: [
        [0x10, 0x01, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x38, 0, 0, 0],  // common cfg, BAR4
        [0x14, 0x02, 0x04, 0, 0, 0, 0, 0, 0, 0x30, 0, 0, 0, 0x10, 0, 0, 4, 0, 0, 0],  // notify
      ],
      msix: .init(
        tableSize: 3, tableBAR: 1, tableOffset: 0, pendingBAR: 1, pendingOffset: 0x800))
  }

  private func attached() throws -> (PassthroughPCIFunction, FakeHost, PCIPlatform, Messages) {
    let host = FakeHost()
    let function = PassthroughPCIFunction(
      host: try XCTUnwrap(PassthroughFunction(bus: 0, device: 0x11, function: 0)),
      description: virtioNet(), access: host)
    let platform = PCIPlatform(vcpus: [], ioAPIC: nil)
    let messages = Messages()
    XCTAssertEqual(try platform.attach(function).get().slot, 1)
    function.connectInterrupts(messages, intx: nil)
    return (function, host, platform, messages)
  }

  private func config(_ platform: PCIPlatform, _ offset: Int, size: UInt8 = 4) -> UInt32 {
    _ = platform.bus.write(port: 0xCF8, size: 4, value: 0x8000_0800 | UInt32(offset & 0xFC))
    return platform.bus.read(port: 0xCFC + UInt16(offset & 3), size: size)
  }

  private func setConfig(_ platform: PCIPlatform, _ offset: Int, _ value: UInt32, size: UInt8 = 4) {
    _ = platform.bus.write(port: 0xCF8, size: 4, value: 0x8000_0800 | UInt32(offset & 0xFC))
    _ = platform.bus.write(port: 0xCFC + UInt16(offset & 3), size: size, value: value)
  }

  func testIdentityBARsAndSizing() throws {
    let (_, _, platform, _) = try attached()
    XCTAssertEqual(config(platform, 0x00), 0x1041_1AF4)
    XCTAssertEqual(config(platform, 0x08), 0x0200_0001)
    XCTAssertEqual(config(platform, 0x2C), 0x1100_1AF4)
    XCTAssertEqual(config(platform, 0x3C) >> 8 & 0xFF, 0, "no INTx pin")
    // Firmware placed both BARs in the window, the larger first, each aligned to its size.
    XCTAssertEqual(config(platform, 0x20), 0xC000_000C, "BAR4: 64-bit prefetchable")
    XCTAssertEqual(config(platform, 0x24), 0)
    XCTAssertEqual(config(platform, 0x14), 0xC000_4000, "BAR1 after it")
    XCTAssertEqual(config(platform, 0x10), 0, "no BAR0")
    // Sizing: all ones in, the size's mask out; the guest's address comes back after.
    setConfig(platform, 0x14, 0xFFFF_FFFF)
    XCTAssertEqual(config(platform, 0x14), 0xFFFF_F000)
    setConfig(platform, 0x20, 0xFFFF_FFFF)
    setConfig(platform, 0x24, 0xFFFF_FFFF)
    XCTAssertEqual(config(platform, 0x20), 0xFFFF_C00C)
    XCTAssertEqual(config(platform, 0x24), 0xFFFF_FFFF)
    setConfig(platform, 0x14, 0xFFFF_FFFF)
    XCTAssertEqual(config(platform, 0x10), 0, "an absent BAR sizes as 0")
  }

  func testCapabilityListHoldsOnlyVendorCapabilitiesAndMSIX() throws {
    let (_, _, platform, _) = try attached()
    XCTAssertNotEqual(config(platform, 0x04) >> 16 & 0x10, 0, "status: capability list")
    var pointer = Int(config(platform, 0x34) & 0xFF)
    var ids: [UInt32] = []
    while pointer != 0, ids.count < 10 {
      let word = config(platform, pointer)
      ids.append(word & 0xFF)
      if word & 0xFF == 0x09 && ids.count == 1 {
        XCTAssertEqual(word >> 16, 0x0110, "the common-cfg locator's bytes, copied")
        // Read-only: a write changes nothing.
        setConfig(platform, pointer + 4, 0xFFFF_FFFF)
        XCTAssertEqual(config(platform, pointer + 4), 0x0000_0004)
      }
      if word & 0xFF == 0x11 {
        XCTAssertEqual(word >> 16, 0x0002, "3 entries, disabled")
        XCTAssertEqual(config(platform, pointer + 4), 0x0000_0001, "table in BAR1 at 0")
        XCTAssertEqual(config(platform, pointer + 8), 0x0000_0801, "PBA in BAR1 at 0x800")
        setConfig(platform, pointer + 2, 0xFFFF, size: 2)
        XCTAssertEqual(config(platform, pointer) >> 16, 0xC002, "only enable and mask stick")
      }
      pointer = Int(word >> 8 & 0xFC)
    }
    XCTAssertEqual(ids, [0x09, 0x09, 0x11], "no PM, PCIe or MSI capability reaches the guest")
  }

  func testCommandRegisterReachesTheHostFiltered() throws {
    let (_, host, platform, _) = try attached()
    XCTAssertEqual(host.commands.count, 1, "memory decoding on at attach")
    XCTAssertEqual(host.commands.last?.memory, true)
    // The guest sets every bit: only memory space and bus master reach the host; I/O space
    // and SERR/parity never do.
    setConfig(platform, 0x04, 0xFFFF, size: 2)
    XCTAssertEqual(config(platform, 0x04) & 0xFFFF, 0x0407)
    XCTAssertEqual(host.commands.last?.memory, true)
    XCTAssertEqual(host.commands.last?.busMaster, true)
    setConfig(platform, 0x04, 0x0000, size: 2)
    XCTAssertEqual(host.commands.last?.busMaster, false)
    XCTAssertEqual(host.commands.last?.memory, false)
  }

  func testBARAccessesReachTheHostButTheMSIXTableIsVirtual() throws {
    let (function, host, platform, messages) = try attached()
    // BAR4 (virtio structures) forwards.
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_0014, size: 1), 0x1234)
    XCTAssertEqual(host.reads.last?.bar, 4)
    XCTAssertEqual(host.reads.last?.offset, 0x14)
    _ = platform.bus.writeMemory(address: 0xC000_3000, size: 2, value: 0)
    XCTAssertEqual(host.writes.last?.offset, 0x3000)
    // The table: entry 1's address and data are the guest's, never the device's.
    let writesBefore = host.writes.count
    _ = platform.bus.writeMemory(address: 0xC000_4010, size: 4, value: 0xFEE0_1000)
    _ = platform.bus.writeMemory(address: 0xC000_4018, size: 4, value: 0x0000_0041)
    _ = platform.bus.writeMemory(address: 0xC000_401C, size: 4, value: 0)  // unmask
    XCTAssertEqual(host.writes.count, writesBefore, "no table write reaches the device")
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_4010, size: 4), 0xFEE0_1000)
    // Disabled: held and pending.
    function.deliver(entry: 1)
    XCTAssertTrue(messages.sent.isEmpty)
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_4800, size: 4), 0b010)
    // Enabled: the held one goes out as programmed, then each one as it comes.
    let capability = try XCTUnwrap(function.msixCapability)
    setConfig(platform, capability + 2, 0x8000, size: 2)
    XCTAssertEqual(messages.sent.count, 1)
    XCTAssertEqual(messages.sent.first?.address, 0xFEE0_1000)
    XCTAssertEqual(messages.sent.first?.data, 0x41)
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_4800, size: 4), 0)
    function.deliver(entry: 1)
    XCTAssertEqual(messages.sent.count, 2)
    // A masked entry, and an entry past the table, send nothing.
    function.deliver(entry: 0)
    function.deliver(entry: 7)
    XCTAssertEqual(messages.sent.count, 2)
    XCTAssertEqual(function.held, 2)
  }

  func testOnlyBARsInsideTheWindowAreMappedAndNeverTheTablePage() throws {
    let (_, _, platform, _) = try attached()
    let window =
      PCIPlatform
      .memoryWindowBase..<(PCIPlatform.memoryWindowBase
      + PCIPlatform.memoryWindowSize)
    let function = try XCTUnwrap(platform.bus.function(at: 1) as? PassthroughPCIFunction)
    var ranges = function.mappableRanges(window: window)
    XCTAssertEqual(ranges.count, 1, "BAR4 whole; BAR1 is all table and PBA page")
    XCTAssertEqual(ranges.first?.guest, 0xC000_0000)
    XCTAssertEqual(ranges.first?.host, 0xFE00_0000)
    XCTAssertEqual(ranges.first?.size, 0x4000)
    // The guest moves BAR4 onto its RAM (or the local APIC): it is mapped nowhere.
    setConfig(platform, 0x20, 0x0010_0000)
    XCTAssertTrue(function.mappableRanges(window: window).isEmpty)
    setConfig(platform, 0x20, 0xFEE0_0000)
    XCTAssertTrue(function.mappableRanges(window: window).isEmpty)
    // Moved within the window: mapped there, onto the same host MMIO.
    setConfig(platform, 0x20, 0xD000_0000)
    ranges = function.mappableRanges(window: window)
    XCTAssertEqual(ranges.first?.guest, 0xD000_0000)
    XCTAssertEqual(ranges.first?.host, 0xFE00_0000)
    // Memory decoding off: nothing mapped.
    setConfig(platform, 0x04, 0, size: 2)
    XCTAssertTrue(function.mappableRanges(window: window).isEmpty)
  }

  /// An interposer (the NVMe admin guard's register page) takes its pages out of the
  /// mapping and gets their accesses; the rest of the BAR still goes to the device.
  func testInterposedPagesAreTrappedAndModelled() throws {
    let (function, host, platform, _) = try attached()
    let model = PageModel()
    function.interposer = model
    let window =
      PCIPlatform.memoryWindowBase..<(PCIPlatform.memoryWindowBase + PCIPlatform.memoryWindowSize)
    let ranges = function.mappableRanges(window: window)
    XCTAssertEqual(ranges.map { $0.guest }, [0xC000_1000])
    XCTAssertEqual(ranges.map { $0.host }, [0xFE00_1000])
    XCTAssertEqual(ranges.map { $0.size }, [0x3000])
    XCTAssertEqual(platform.bus.readMemory(address: 0xC000_0028, size: 4), 0xABCD)
    _ = platform.bus.writeMemory(address: 0xC000_0014, size: 4, value: 1)
    XCTAssertEqual(model.writes.map { $0.offset }, [0x14])
    XCTAssertTrue(host.writes.isEmpty, "nothing of the modelled page reaches the device")
    _ = platform.bus.writeMemory(address: 0xC000_1000, size: 4, value: 5)
    XCTAssertEqual(host.writes.last?.offset, 0x1000, "the doorbell page is the device's")
    XCTAssertEqual(model.writes.count, 1)
    // The pieces left around holes: overlapping, unordered, past the end, none.
    XCTAssertEqual(
      PassthroughPCIFunction.pieces(
        of: 0x4000, without: [(0x3000, 0x5000), (0, 0x1000), (0x800, 0x2000)]
      )
      .map { [$0.start, $0.end] }, [[0x2000, 0x3000]])
    XCTAssertEqual(
      PassthroughPCIFunction.pieces(of: 0x4000, without: []).map { [$0.start, $0.end] },
      [[0, 0x4000]])
  }

  /// The node remaps nested paging when the hook fires: on a BAR move and a decode toggle,
  /// not on writes that change neither (the interrupt line, bus mastering, an MSI-X mask).
  func testMappingChangesAreReportedAndOnlyThose() throws {
    let (function, _, platform, _) = try attached()
    var calls = 0
    function.mappingChanged = { calls += 1 }
    setConfig(platform, 0x3C, 0x0B, size: 1)
    setConfig(platform, 0x04, 0b110, size: 2)  // bus master on, memory stays on
    XCTAssertEqual(calls, 0)
    setConfig(platform, 0x20, 0xD000_0000)
    XCTAssertEqual(calls, 1, "BAR4 moved")
    setConfig(platform, 0x20, 0xD000_0000)
    XCTAssertEqual(calls, 1, "the same address again is no move")
    setConfig(platform, 0x04, 0b100, size: 2)
    XCTAssertEqual(calls, 2, "decoding off")
    setConfig(platform, 0x04, 0b110, size: 2)
    XCTAssertEqual(calls, 3, "decoding on")
    // Sizing: all ones, read, restore: two moves, each reported.
    setConfig(platform, 0x14, 0xFFFF_FFFF)
    XCTAssertEqual(config(platform, 0x14), 0xFFFF_F000, "BAR1 decodes 4 KiB")
    setConfig(platform, 0x14, 0xC000_4000)
    XCTAssertEqual(calls, 5)
  }

  /// QEMU's edu (1234:11e8): one 1 MiB BAR and MSI only. The guest sees a virtual MSI
  /// capability; the node's host vector firing sends the guest's own message, only while
  /// the guest has MSI enabled.
  func testMSIIsTheGuestsMessage() throws {
    let host = FakeHost()
    let function = PassthroughPCIFunction(
      host: try XCTUnwrap(PassthroughFunction(bus: 0, device: 0x12, function: 0)),
      description: PassthroughHostDescription(
        vendorID: 0x1234, deviceID: 0x11E8, classCode: 0x00, subclass: 0xFF,
        bars: [.init(VirtualBAR(.memory32, size: 0x10_0000), hostAddress: 0xFEA0_0000)],
        hasMSI: true), access: host)
    let platform = PCIPlatform(vcpus: [], ioAPIC: nil)
    XCTAssertEqual(try platform.attach(function).get().slot, 1)
    let messages = Messages()
    function.connectInterrupts(messages, intx: nil)
    let capability = try XCTUnwrap(function.msiCapability)
    XCTAssertEqual(config(platform, 0x34) & 0xFF, UInt32(capability))
    XCTAssertEqual(config(platform, capability) & 0xFF, 0x05)
    XCTAssertEqual(config(platform, capability) >> 16, 0x0080, "64-bit, one message, disabled")
    function.deliverMSI()
    XCTAssertTrue(messages.sent.isEmpty, "disabled: dropped")
    XCTAssertEqual(function.messagesDropped, 1)
    setConfig(platform, capability + 4, 0xFEE0_1003)  // low bits are not writable
    setConfig(platform, capability + 8, 0)
    setConfig(platform, capability + 12, 0x0000_0051)
    setConfig(platform, capability, 0x00F1_0005)  // enable; MME and 64-bit bit read-only
    XCTAssertEqual(config(platform, capability) >> 16, 0x0081)
    function.deliverMSI()
    XCTAssertEqual(messages.sent.count, 1)
    XCTAssertEqual(messages.sent.first?.address, 0xFEE0_1000)
    XCTAssertEqual(messages.sent.first?.data, 0x51)
    XCTAssertEqual(function.messagesDelivered, 1)
    XCTAssertTrue(host.commands.allSatisfy { !$0.busMaster }, "MSI writes touch no host bit")
  }

  func testOtherFunctionsOfTheSlotAreUnreachable() throws {
    let (_, _, platform, _) = try attached()
    _ = platform.bus.write(port: 0xCF8, size: 4, value: 0x8000_0900)  // 00:01.1
    XCTAssertEqual(platform.bus.read(port: 0xCFC, size: 4), 0xFFFF_FFFF)
    _ = platform.bus.write(port: 0xCF8, size: 4, value: 0x8001_0800)  // bus 1
    XCTAssertEqual(platform.bus.read(port: 0xCFC, size: 4), 0xFFFF_FFFF)
  }
}
