import Foundation
import HypervisorCore
import XCTest

/// A Linux-platform VM's exits that read the guest clock (the PIT's port 0x61 refresh bit,
/// channel 2's count) and hypercall 2 (exit statistics the hypervisor keeps) are recorded
/// with the clock reads and the statistics, and replay exactly on a replay VM with the same
/// platform devices; a changed clock reading is a divergence.
final class TimedDeviceTraceTests: XCTestCase {
  /// A clock that moves 7.5 us (half a 66.667 kHz refresh period) at every read.
  final class SteppingClock: GuestClock {
    var value: UInt64 = 1_000_000
    var now: UInt64 {
      value += 7_500
      return value
    }
    var ticksPerSecond: UInt64 { 1_000_000_000 }
  }

  final class Sink: ConsoleSink {
    func write(_ byte: UInt8, from vmName: [UInt8]) {}
  }

  /// IN 0x61 twice (the refresh bit toggles with time), channel 2 loaded and its count read,
  /// then hypercall 2 with a 48-byte buffer: every exit recorded.
  func recordLinuxPlatformRun() -> [UInt8] {
    var profile = VMProfile(name: Array("timed".utf8))
    profile.memorySize = 1 << 20
    profile.kind = .linux
    profile.traceExits = 10
    let vm = VirtualMachine(id: 3, profile: profile)
    vm.msrPolicy = MSRPolicy(vendor: .amd)
    let ram = calloc(1, 1 << 20)!
    defer { free(ram) }
    vm.memory.add(
      GuestMemoryRegion(guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: ram)), size: 1 << 20)
    )
    vm.installStandardDevices(console: Sink())
    let clock = RecordingClock(inner: SteppingClock())
    vm.recordingClock = clock
    GuestPlatformDevices.installLinux(
      in: vm, clock: clock,
      wallClock: GuestClockWallClock(clock: clock, start: clock.buildTime, epochNanoseconds: 0))
    var header = ExitTraceHeader(
      backend: .amdV, msrVendor: .amd, controlRegisterRules: .baseline, profile: profile)
    header.hasInterruptSources = vm.hasInterruptSources
    header.clockRate = clock.ticksPerSecond
    header.clockAtBuild = clock.buildTime
    let recorder = ExitTraceRecorder(limit: profile.traceExits, header: header)
    clock.attach(recorder)

    let vcpu = vm.vcpus[0]
    vcpu.statistics.record(.portIO, cycles: 900)
    vcpu.statistics.record(.cpuid, cycles: 400)
    var guest = ExitTraceRecorderTests.HostGuest()
    func port(_ number: UInt16, _ direction: PortAccess.Direction) -> VMExit {
      VMExit(
        reason: .portIO(PortAccess(port: number, size: 1, direction: direction)),
        instructionLength: 2)
    }
    var values: [UInt64] = []
    let steps: [(VMExit, UInt64)] = [
      (port(0x61, .read), 0),
      (port(0x61, .read), 0),
      (port(0x43, .write), 0xB0),  // channel 2, low then high byte, mode 0
      (port(0x42, .write), 0xFF),
      (port(0x42, .write), 0xFF),
      (port(0x42, .read), 0),
      (port(0x42, .read), 0),
    ]
    for (exit, al) in steps {
      vcpu.registers.rax = al
      XCTAssertEqual(
        recorder.dispatch(exit, vcpu: vcpu, vm: vm, guest: &guest, console: Sink()), .resume)
      values.append(vcpu.registers.rax & 0xFF)
    }
    XCTAssertNotEqual(values[0] & 0x10, values[1] & 0x10, "the refresh bit follows the clock")
    vcpu.registers.rax = 2
    vcpu.registers.rbx = 0x2000
    vcpu.registers.rcx = 48
    XCTAssertEqual(
      recorder.dispatch(
        VMExit(reason: .hypercall, instructionLength: 3), vcpu: vcpu, vm: vm, guest: &guest,
        console: Sink()), .resume)
    XCTAssertEqual(vcpu.registers.rcx, 2, "two kinds fit the buffer")
    XCTAssertEqual(vcpu.registers.rdx, 2, "the statistics as the vCPU had them")
    return recorder.fileBytes()
  }

  func testClockReadsAndHypercallTwoReplayExactly() throws {
    let file = try ExitTraceFile.decode(recordLinuxPlatformRun()).get()
    XCTAssertEqual(file.header.kind, .linux)
    XCTAssertEqual(file.records.count, 8)
    let clockReads = file.records.flatMap { record in
      record.guestCalls.filter { if case .clockRead = $0 { true } else { false } }
    }
    XCTAssertGreaterThanOrEqual(clockReads.count, 3, "the PIT's reads of the clock are recorded")
    XCTAssertTrue(
      file.records[7].guestCalls.contains {
        if case .exitStatistics(let counts) = $0 { counts.count == 2 } else { false }
      }, "hypercall 2 records the statistics it answered with")
    let divergences = ExitTraceReplay(file).run()
    XCTAssertTrue(divergences.isEmpty, "\(divergences)")
  }

  func testAChangedClockReadingIsADivergence() throws {
    var file = try ExitTraceFile.decode(recordLinuxPlatformRun()).get()
    let index = try XCTUnwrap(
      file.records[1].guestCalls.firstIndex { if case .clockRead = $0 { true } else { false } })
    guard case .clockRead(let value) = file.records[1].guestCalls[index] else { return }
    // One refresh tick (15 us at 66.667 kHz) later: the bit the guest reads flips.
    file.records[1].guestCalls[index] = .clockRead(value + 15_000)
    let divergences = ExitTraceReplay(file).run()
    XCTAssertEqual(divergences.first?.record, 1, "\(divergences)")
    XCTAssertTrue(divergences.first?.what.contains("rax") ?? false, "\(divergences)")
  }

  func testAFormatOneFileIsRefusedNotReplayed() throws {
    var bytes = recordLinuxPlatformRun()
    bytes[4] = 1
    bytes[5] = 0
    switch ExitTraceFile.decode(bytes) {
    case .success: XCTFail("a format-1 file decoded")
    case .failure(let error): XCTAssertEqual("\(error)", "unsupportedVersion(1)")
    }
  }
}
