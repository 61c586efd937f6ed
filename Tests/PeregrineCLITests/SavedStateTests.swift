import ControlClient
import ControlProtocol
import Foundation
import HypervisorCore
import XCTest

@testable import PeregrineCommands

/// `status VM --state`: the pieces the node sends, put together, decoded with the kernel's
/// decoder and printed; a short or corrupt answer is an error that says so.
final class SavedStateTests: XCTestCase {
  private let key = [UInt8](repeating: 0x5e, count: 32)

  /// A paused 64-bit vCPU with a pending interrupt, its local APIC, the UART and the PIT.
  static func sampleState() -> SavedVMState {
    var vcpu = VCPUArchitecturalState()
    vcpu.registers.rip = 0xFFFF_FFFF_8100_0010
    vcpu.registers.rsp = 0xFFFF_C900_0001_3F00
    vcpu.registers.rflags = 0x246
    vcpu.cr0 = 0x8005_0033
    vcpu.cr3 = 0x0200_0000
    vcpu.cr4 = 0x6F0
    vcpu.efer = 0xD01
    vcpu.cs = SegmentState(
      selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: SegmentAttributes(rawValue: 0xA9B))
    vcpu.pendingEvent = .externalInterrupt(vector: 0xEC)
    vcpu.activity = .halted
    var apic = LocalAPICModel.State()
    apic.timerRemainingNanoseconds = 3_000_000
    apic.requests[7] = 1 << 12  // vector 0xEC
    var uart = UART16550.State()
    uart.transmitted = 4321
    uart.interruptEnable = 1
    var pit = PIT8254.State()
    pit.channels[0].mode = 2
    pit.channels[0].reload = 0x2E9C
    return SavedVMState(
      memorySize: 256 << 20, vcpus: [SavedVMState.VCPU(architectural: vcpu, localAPIC: apic)],
      devices: [.uart(uart), .pit(pit)])
  }

  private func node(serving state: [UInt8], pieces: Int = 100, cutAt: Int? = nil)
    -> LoopbackControlNode
  {
    let node = LoopbackControlNode(key: key)
    node.serve(pieces) { request in
      // `status VM` reads the I/O page too (protocol version 5).
      if case .ioStatus = request {
        return .vmIOStatus(VMIOStatus(uptimeMilliseconds: 2500, totalExits: 0))
      }
      guard case .status(let name, true, let offset) = request else {
        return .failure(ControlFailure(.notSupported))
      }
      var excerpt = StateExcerpt.window(of: state, from: offset)
      if let cutAt, Int(excerpt.offset) >= cutAt { excerpt.bytes = [] }
      return .vmStatus(
        VMStatus(
          summary: VMSummary(
            id: 0, name: name, state: .paused, vcpuCount: 1, memorySize: 256 << 20),
          uptimeMilliseconds: 2500, vcpuCPUs: [1], state: excerpt))
    }
    return node
  }

  private func connection(to node: LoopbackControlNode) throws -> ControlConnection {
    let policy = RetransmissionPolicy(initialTimeout: 50, maximumTimeout: 100, maximumAttempts: 3)
    return ControlConnection(
      node: "node0",
      client: try ControlClient(host: "127.0.0.1", port: node.port, key: key, policy: policy))
  }

  func testTheStateIsReadInPiecesDecodedAndNamed() throws {
    let bytes = Self.sampleState().encoded()
    XCTAssertGreaterThan(bytes.count, 3 * ProtocolLimits.maximumStateBytes)
    let status = try connection(to: node(serving: bytes)).machineStatus(
      named: "linux", includingState: true)
    let sections = try XCTUnwrap(status.savedState)
    XCTAssertEqual(
      sections.map(\.title), ["vm", "vcpu 0", "local apic 0", "uart (COM1)", "pit (8254)"])
    let vcpu = sections[1]
    func field(_ name: String) -> UInt64? { vcpu.fields.first { $0.name == name }?.value }
    XCTAssertEqual(field("rip"), 0xFFFF_FFFF_8100_0010)
    XCTAssertEqual(field("efer"), 0xD01)
    XCTAssertEqual(field("cs.attributes"), 0xA9B)
    XCTAssertEqual(
      vcpu.notes,
      [
        "mode: 64-bit long mode (EFER.LMA)", "activity: halted (waits for an interrupt)",
        "pending event: external interrupt 0xec", "interrupt shadow: none, NMIs not blocked",
      ])
    XCTAssertEqual(sections[2].notes[1], "in service: none, requested: 0xec")
    XCTAssertEqual(sections[3].fields.first { $0.name == "transmitted" }?.value, 4321)
    XCTAssertEqual(sections[4].fields.first { $0.name == "ch0.reload" }?.value, 0x2E9C)
  }

  func testAStateAnswerThatStopsShortIsAnError() throws {
    let bytes = Self.sampleState().encoded()
    XCTAssertThrowsError(
      try connection(to: node(serving: bytes, cutAt: 512)).machineStatus(
        named: "linux", includingState: true)
    ) { error in
      guard case .protocolMismatch(_, let detail) = error as? NodeError else {
        return XCTFail("\(error)")
      }
      XCTAssertTrue(detail.contains("stopped short"), detail)
    }
  }

  func testACorruptStateIsAnErrorThatSaysWhere() throws {
    var bytes = Self.sampleState().encoded()
    bytes[19] = 0x05  // the header's vCPU count (after the 11-byte record header and the memory size): 5 where 1 follows
    XCTAssertThrowsError(
      try connection(to: node(serving: bytes)).machineStatus(named: "linux", includingState: true)
    ) { error in
      guard case .protocolMismatch(_, let detail) = error as? NodeError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(
        detail,
        "the saved state of VM linux (\(bytes.count) bytes) is corrupt: 1 records where the header announces 5"
      )
    }
  }

  func testTheTextGroupsSegmentFieldsOnOneLineAndPrintsTheNotes() throws {
    let sections = try SavedStateSections.sections(of: Self.sampleState().encoded())
    let text = StatusText.render(sections[1])
    XCTAssertTrue(text.hasPrefix("  vcpu 0\n    rip         0xffffffff81000010\n"), text)
    XCTAssertTrue(
      text.contains(
        "    cs          selector=0x0010 base=0x0000000000000000 limit=0xffffffff attributes=0xa9b\n"
      ),
      text)
    XCTAssertTrue(text.hasSuffix("    interrupt shadow: none, NMIs not blocked\n"), text)
  }

  func testTheJSONFormIsStable() throws {
    let sections = try SavedStateSections.sections(of: Self.sampleState().encoded())
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = String(decoding: try encoder.encode(sections[4]), as: UTF8.self)
    XCTAssertTrue(
      json.hasPrefix(
        #"{"fields":[{"name":"ch0.mode","value":2,"width":8},{"name":"ch0.reload","value":11932,"width":32}"#
      ), json)
    XCTAssertTrue(json.hasSuffix(#""title":"pit (8254)"}"#), json)
  }

  /// The PCI platform's and a virtio function's records print as named sections.
  func testPCIAndVirtioRecordsPrintWithTheirIdentity() throws {
    var image = [UInt8](repeating: 0, count: 256)
    image[0...3] = [0xF4, 0x1A, 0x41, 0x10]  // 1AF4:1041, virtio-net
    image[0x04] = 0x06
    image[0x20] = 0x0C
    image[0x23] = 0xD0
    image[0x3C] = 18
    var state = Self.sampleState()
    var net = VirtioNetDevice.State(mac: 0x5254_0012_3456)
    net.receiveFault = .descriptorLoop
    state.devices = [
      .pciBus(VirtualPCIBus.State(addressLatch: 0x8000_1010, occupiedSlots: 0b101)),
      .pciFunction(PCIFunctionState(configuration: image)), .virtioNet(net),
    ]
    let sections = try SavedStateSections.sections(of: state.encoded())
    let titles = sections.map(\.title)
    XCTAssertEqual(
      Array(titles.suffix(3)), ["pci bus 0", "pci function 0x1af4:0x1041", "virtio-net"],
      "\(titles)")
    let function = sections[sections.count - 2]
    XCTAssertEqual(function.fields.first { $0.name == "bar4" }?.value, 0xD000_000C)
    XCTAssertEqual(function.fields.first { $0.name == "interrupt_line" }?.value, 18)
    XCTAssertEqual(sections.last?.notes, ["receive fault: descriptorLoop"])
  }

  func testTheRTCSectionShowsTheGuestsOffset() throws {
    var state = Self.sampleState()
    var bytes = [UInt8](repeating: 0, count: 128)
    bytes[0x0A] = 0x26
    bytes[0x0B] = 0x02
    bytes[0x40] = 7
    state.devices = [.cmosClock(CMOSClock.State(bytes: bytes, offsetSeconds: -3600))]
    let rtc = try XCTUnwrap(
      SavedStateSections.sections(of: state.encoded()).first { $0.title == "rtc (CMOS)" })
    XCTAssertEqual(rtc.fields.first { $0.name == "reg_a" }?.value, 0x26)
    XCTAssertEqual(
      rtc.fields.first { $0.name == "offset_seconds" }?.value, UInt64(bitPattern: -3600))
    XCTAssertEqual(
      rtc.notes, ["the guest's clock is -3600 s from the node's; 1 of 114 RAM bytes non-zero"])
  }
}
