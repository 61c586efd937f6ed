import HypervisorCore
import XCTest

/// A whole VM's saved state: what the vCPUs' CPUs captured at the pause and the device
/// models' values, encoded as the node sends it and decoded as the CLI reads it.
final class SavedVMStateTests: XCTestCase {
  private var machine: TestMachine!

  override func tearDown() {
    machine?.release()
    machine = nil
  }

  private func pausedMachine() -> TestMachine {
    let machine = TestMachine(cpus: 2)
    let pit = PIT8254(clock: FixedClock())
    machine.vm.ports.register(pit, ports: 0x40...0x43)
    machine.vm.ports.register(pit, ports: 0x61...0x61)  // one model, two ranges
    _ = pit.write(port: 0x43, size: 1, value: 0x34)  // channel 0, lobyte/hibyte, mode 2
    _ = pit.write(port: 0x40, size: 1, value: 0x9C)
    _ = pit.write(port: 0x40, size: 1, value: 0x2E)
    _ = machine.vm.serialPort?.write(port: 0x3F9, size: 1, value: 0x01)  // IER
    for vcpu in machine.vm.vcpus {
      var state = VCPUArchitecturalState()
      state.registers.rip = 0x7C00 + UInt64(vcpu.index)
      state.cr0 = 0x11
      var apic = LocalAPICModel.State()
      apic.taskPriority = 0x20
      vcpu.pausedState = SavedVMState.VCPU(architectural: state, localAPIC: apic)
    }
    return machine
  }

  func testAPausedVMsStateRoundTripsWithEveryDeviceOnce() throws {
    machine = pausedMachine()
    let bytes = try XCTUnwrap(machine.vm.encodePausedState())
    let state = try SavedVMState.decoded(bytes)
    XCTAssertEqual(state.memorySize, machine.ramSize)
    XCTAssertEqual(state.vcpus.map(\.architectural.registers.rip), [0x7C00, 0x7C01])
    XCTAssertEqual(state.vcpus.map { $0.localAPIC?.taskPriority }, [0x20, 0x20])
    // Ports in registration order (UART, debug exit, PIT once), then MMIO (test device).
    let kinds = try StateRecord.entries(in: state.devices.flatMap { $0.encoded() }).map(\.kind)
    XCTAssertEqual(kinds, [.uart, .debugExit, .pit, .testMMIO])
    guard case .uart(let uart) = state.devices[0], case .pit(let pit) = state.devices[2] else {
      return XCTFail("devices out of order: \(state.devices)")
    }
    XCTAssertEqual(uart.interruptEnable, 1)
    XCTAssertEqual(pit.channels[0].reload, 0x2E9C)
    XCTAssertEqual(pit.channels[0].mode, 2)
    XCTAssertEqual(state.encoded(), bytes, "a decoded state encodes to the same bytes")
  }

  func testDevicesRestoreIntoAVMBuiltTheSameWay() throws {
    machine = pausedMachine()
    let saved = machine.vm.saveDevices()
    let target = TestMachine(cpus: 2)
    defer { target.release() }
    let pit = PIT8254(clock: FixedClock())
    target.vm.ports.register(pit, ports: 0x40...0x43)
    target.vm.ports.register(pit, ports: 0x61...0x61)
    XCTAssertNotEqual(target.vm.saveDevices(), saved)
    try target.vm.restoreDevices(saved)
    XCTAssertEqual(target.vm.saveDevices(), saved)
  }

  func testDevicesFromAVMBuiltOtherwiseAreRefusedAndNothingChanges() throws {
    machine = pausedMachine()
    let saved = machine.vm.saveDevices()
    let target = TestMachine(cpus: 2)
    defer { target.release() }
    let before = target.vm.saveDevices()
    XCTAssertThrowsError(try target.vm.restoreDevices(saved)) { error in
      XCTAssertEqual(error as? DeviceRestoreError, .deviceCount(expected: 3, found: 4))
    }
    var swapped = before
    swapped.swapAt(0, 1)
    XCTAssertThrowsError(try target.vm.restoreDevices(swapped)) { error in
      XCTAssertEqual(error as? DeviceRestoreError, .kindMismatch(index: 0))
    }
    XCTAssertEqual(target.vm.saveDevices(), before)
  }

  func testNoStateWhileAVCPUHasNoCapture() {
    machine = pausedMachine()
    machine.vm.vcpus[1].pausedState = nil
    XCTAssertNil(machine.vm.encodePausedState())
  }

  func testEveryTruncationIsRefusedAndNothingTraps() throws {
    machine = pausedMachine()
    let bytes = try XCTUnwrap(machine.vm.encodePausedState())
    for length in stride(from: 0, to: bytes.count, by: 7) {
      XCTAssertThrowsError(try SavedVMState.decoded(Array(bytes[0..<length])), "length \(length)")
    }
    var generator = SeededGenerator(state: 11)
    for _ in 0..<2000 {
      var mutated = bytes
      mutated[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
        in: 0...255, using: &generator)
      if let decoded = try? SavedVMState.decoded(mutated) {
        XCTAssertEqual(decoded.encoded(), mutated, "an accepted state re-encodes the same")
      }
    }
  }

  func testAHeaderThatAnnouncesOtherCountsIsRefused() throws {
    machine = pausedMachine()
    let state = try SavedVMState.decoded(try XCTUnwrap(machine.vm.encodePausedState()))
    var header = VMStateHeader(memorySize: state.memorySize, vcpuCount: 3, deviceCount: 4)
    var body = state.vcpus.flatMap { $0.architectural.encoded() + ($0.localAPIC?.encoded() ?? []) }
    body += state.devices.flatMap { $0.encoded() }
    XCTAssertThrowsError(try SavedVMState.decoded(header.encoded() + body)) {
      XCTAssertEqual($0 as? StateDecodingError, .recordCount(expected: 3, found: 2))
    }
    header.vcpuCount = 2
    header.deviceCount = 5
    XCTAssertThrowsError(try SavedVMState.decoded(header.encoded() + body)) {
      XCTAssertEqual($0 as? StateDecodingError, .recordCount(expected: 5, found: 4))
    }
    header.deviceCount = 4
    XCTAssertEqual(try SavedVMState.decoded(header.encoded() + body), state)
    XCTAssertThrowsError(try SavedVMState.decoded(body), "no VM header first")
  }
}

/// A guest clock that stands still.
private final class FixedClock: GuestClock {
  var now: UInt64 { 1_000_000 }
  var ticksPerSecond: UInt64 { 1_000_000_000 }
}
