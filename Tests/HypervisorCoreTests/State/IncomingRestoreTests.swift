import HypervisorCore
import XCTest

/// The node's side of restore that runs on the host: guest memory read (zeros skipped,
/// bounded) and written, an incoming VM's lifecycle, the checks a saved state must pass
/// before anything changes, and the guest TSC carried across hosts.
final class IncomingRestoreTests: XCTestCase {
  private var machines: [TestMachine] = []

  override func tearDown() {
    for machine in machines { machine.release() }
    machines = []
  }

  private func machine(cpus: Int = 1, ramSize: UInt64 = 8 << 20) -> TestMachine {
    let made = TestMachine(ramSize: ramSize, cpus: cpus)
    machines.append(made)
    return made
  }

  // MARK: Memory

  func testMemoryReadSkipsZerosAndTheHoleAndFindsEveryDataChunk() throws {
    let machine = machine()
    machine.write([0xAA], at: 0x1234)  // chunk 0x1000 (4 of 1024)
    machine.write([1, 2, 3], at: 0x30_03FE)  // straddles chunks 0x30_0000 and 0x30_0400
    var found: [(UInt64, [UInt8])] = []
    var offset: UInt64 = 0
    var requests = 0
    while offset < machine.ramSize {
      let answer = try XCTUnwrap(
        GuestMemoryScan.read(
          machine.vm.memory, size: machine.ramSize, from: offset, maximumLength: 1024))
      requests += 1
      XCTAssertGreaterThanOrEqual(answer.offset, offset)
      XCTAssertLessThanOrEqual(answer.offset - offset, GuestMemoryScan.scanLimit)
      if !answer.bytes.isEmpty { found.append((answer.offset, answer.bytes)) }
      offset = answer.offset + UInt64(answer.bytes.count)
    }
    XCTAssertEqual(found.map(\.0), [0x1000, 0x30_0000, 0x30_0400])
    XCTAssertEqual(found[0].1.count, 1024)
    XCTAssertEqual(found[0].1[0x234], 0xAA)
    XCTAssertEqual(found[1].1[0x3FE], 1)
    XCTAssertEqual(found[1].1[0x3FF], 2)
    XCTAssertEqual(found[2].1[0], 3)
    // 3 chunks of data; 8 MiB of RAM in 256 KiB blocks (32 stops), split by the three
    // answers with data: 35 requests.
    XCTAssertEqual(requests, 35)
  }

  func testMemoryReadStopsAtTheEndOfItsBlock() throws {
    let machine = machine()
    machine.write([7], at: 0x4_0000 + 0x800)  // in the second 256 KiB block
    // From inside the first block: a stop at its end, not the data just past it.
    let stop = try XCTUnwrap(
      GuestMemoryScan.read(
        machine.vm.memory, size: machine.ramSize, from: 0x1000, maximumLength: 1024))
    XCTAssertEqual(stop.offset, GuestMemoryScan.scanLimit)
    XCTAssertEqual(stop.bytes, [])
    let data = try XCTUnwrap(
      GuestMemoryScan.read(
        machine.vm.memory, size: machine.ramSize, from: stop.offset, maximumLength: 1024))
    XCTAssertEqual(data.offset, 0x4_0800)
    XCTAssertEqual(data.bytes.first, 7)
  }

  func testMemoryReadRefusesUnalignedOrPastTheEnd() {
    let machine = machine()
    XCTAssertNil(
      GuestMemoryScan.read(machine.vm.memory, size: machine.ramSize, from: 100, maximumLength: 1024)
    )
    XCTAssertNil(
      GuestMemoryScan.read(
        machine.vm.memory, size: machine.ramSize, from: machine.ramSize + 1024, maximumLength: 1024)
    )
    let end = GuestMemoryScan.read(
      machine.vm.memory, size: machine.ramSize, from: machine.ramSize, maximumLength: 1024)
    XCTAssertEqual(end?.offset, machine.ramSize)
    XCTAssertEqual(end?.bytes, [])
  }

  func testMemoryWriteIsBoundsCheckedAndIdempotent() {
    let machine = machine()
    let bytes = [UInt8](repeating: 0x5A, count: 1024)
    XCTAssertTrue(
      GuestMemoryScan.write(bytes, to: 0x20_0000, in: machine.vm.memory, size: machine.ramSize))
    XCTAssertTrue(
      GuestMemoryScan.write(bytes, to: 0x20_0000, in: machine.vm.memory, size: machine.ramSize))
    XCTAssertEqual(machine.vm.memory.read64(0x20_0000), 0x5A5A_5A5A_5A5A_5A5A)
    XCTAssertEqual(machine.vm.memory.read64(0x20_0400), 0)
    // Past the end, straddling it, and into the hole: refused, nothing written.
    XCTAssertFalse(
      GuestMemoryScan.write(
        bytes, to: machine.ramSize, in: machine.vm.memory, size: machine.ramSize))
    XCTAssertFalse(
      GuestMemoryScan.write(
        bytes, to: machine.ramSize - 512, in: machine.vm.memory, size: machine.ramSize))
    XCTAssertEqual(machine.vm.memory.read64(machine.ramSize - 512), 0)
    XCTAssertFalse(
      GuestMemoryScan.write(bytes, to: 0xB_0000, in: machine.vm.memory, size: machine.ramSize))
    XCTAssertFalse(
      GuestMemoryScan.write(
        bytes, to: UInt64.max - 10, in: machine.vm.memory, size: machine.ramSize))
  }

  // MARK: Lifecycle

  func testAnIncomingVMRunsOnlyOnceRestoredAndCanBeDestroyed() {
    var state = VMLifecycle.creating
    state = (try? state.applying(.startedIncoming).get()) ?? .gone
    XCTAssertEqual(state, .incoming)
    for event in [VMLifecycle.Event.pauseRequested, .unpauseRequested, .allParked, .started] {
      XCTAssertEqual(state.applying(event), .failure(.incoming), "\(event)")
    }
    XCTAssertEqual(state.applying(.restored), .success(.running))
    XCTAssertEqual(state.applying(.stopRequested), .success(.stopping))
    // Only an incoming VM takes a saved state.
    XCTAssertEqual(VMLifecycle.running.applying(.restored), .failure(.illegalTransition))
    XCTAssertEqual(VMLifecycle.paused.applying(.restored), .failure(.illegalTransition))
    XCTAssertEqual(VMLifecycle.stopping.applying(.restored), .failure(.stopping))
  }

  // MARK: Restore checks

  private func savedState(of source: TestMachine) -> SavedVMState {
    SavedVMState(
      memorySize: source.ramSize,
      vcpus: source.vm.vcpus.map { vcpu in
        var state = VCPUArchitecturalState()
        state.registers.rip = 0x1000 + UInt64(vcpu.index)
        state.tscOffset = 5_000_000
        return SavedVMState.VCPU(
          architectural: state, localAPIC: vcpu.localAPIC.map { _ in LocalAPICModel.State() })
      },
      devices: source.vm.saveDevices())
  }

  func testAMatchingStateIsStagedForEveryVCPUAndItsDevicesRestored() throws {
    let source = machine(cpus: 2)
    _ = source.vm.serialPort?.write(port: 0x3F9, size: 1, value: 0x05)  // IER
    let saved = savedState(of: source)
    let target = machine(cpus: 2)
    try IncomingRestore.stage(saved, into: target.vm)
    XCTAssertEqual(
      target.vm.vcpus.map { $0.incomingState?.architectural.registers.rip }, [0x1000, 0x1001])
    XCTAssertEqual(target.vm.saveDevices(), saved.devices)
  }

  func testAStateOfAnotherShapeIsRefusedWithNothingChanged() {
    let source = machine(cpus: 2)
    _ = source.vm.serialPort?.write(port: 0x3F9, size: 1, value: 0x05)
    let saved = savedState(of: source)
    let bigger = machine(cpus: 2, ramSize: 16 << 20)
    let before = bigger.vm.saveDevices()
    XCTAssertThrowsError(try IncomingRestore.stage(saved, into: bigger.vm)) { error in
      XCTAssertEqual(error as? IncomingRestore.Refusal, .memorySize(saved: 8 << 20, vm: 16 << 20))
      XCTAssertEqual(
        String(decoding: (error as! IncomingRestore.Refusal).words, as: UTF8.self),
        "the saved state is of a VM with 8388608 bytes of memory, this VM has 16777216")
    }
    let single = machine(cpus: 1)
    XCTAssertThrowsError(try IncomingRestore.stage(saved, into: single.vm)) { error in
      XCTAssertEqual(error as? IncomingRestore.Refusal, .vcpuCount(saved: 2, vm: 1))
    }
    var fewer = saved
    fewer.devices.removeLast()
    let target = machine(cpus: 2)
    XCTAssertThrowsError(try IncomingRestore.stage(fewer, into: target.vm)) { error in
      guard case .devices(.deviceCount) = error as? IncomingRestore.Refusal else {
        return XCTFail("\(error)")
      }
    }
    var swapped = saved
    swapped.devices.swapAt(0, 1)
    XCTAssertThrowsError(try IncomingRestore.stage(swapped, into: target.vm)) { error in
      XCTAssertEqual(error as? IncomingRestore.Refusal, .devices(.kindMismatch(index: 0)))
    }
    XCTAssertEqual(bigger.vm.saveDevices(), before)
    XCTAssertNotEqual(target.vm.saveDevices(), saved.devices, "a refused state changed nothing")
    XCTAssertTrue(target.vm.vcpus.allSatisfy { $0.incomingState == nil })
  }

  // MARK: TSC

  func testTheGuestTSCContinuesFromWhereItPausedOnAnotherHost() {
    // Source: host TSC 1e12 at the pause, offset -4e11: the guest's TSC read 6e11.
    let offset = UInt64(bitPattern: -400_000_000_000)
    let saved = PortableTSC.saved(offset: offset, pausedAtHostTSC: 1_000_000_000_000)
    XCTAssertEqual(saved, 600_000_000_000)
    // Target host far behind (booted later): the guest still reads 6e11 there, not less.
    for hostNow: UInt64 in [5_000, 600_000_000_000, 9_000_000_000_000] {
      let newOffset = PortableTSC.offset(saved: saved, hostNow: hostNow)
      XCTAssertEqual(hostNow &+ newOffset, 600_000_000_000)
    }
  }
}
