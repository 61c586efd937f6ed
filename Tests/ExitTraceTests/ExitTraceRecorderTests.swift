import Foundation
import HypervisorCore
import XCTest

/// Recording on the host: exits handled through ExitTraceRecorder with a fake backend, read
/// out as a file, decoded and replayed through the same handlers must all match; a record
/// whose recorded result is changed must not.
final class ExitTraceRecorderTests: XCTestCase {
  /// Real mode, an AMD host answering CPUID leaf 0 and 1; TSC reads count up.
  struct HostGuest: GuestStateAccess {
    func mode() -> GuestMode { GuestMode(width: .real) }
    func instructionFetchKey(rip: UInt64) -> InstructionFetchKey {
      InstructionFetchKey(linear: rip & 0xFFFF, addressSpace: InstructionFetchKey.unpaged)
    }
    var privilegeLevel: UInt8 { 0 }
    func readStateMSR(_ index: UInt32) -> UInt64? { index == 0xC000_0080 ? 0 : nil }
    mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool { false }
    func readControlRegister(_ number: UInt8) -> UInt64 { number == 0 ? 0x10 : 0 }
    mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool { true }
    var holdsPAEPointers: Bool { false }
    mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers) {}
    func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
      leaf == 0
        ? CPUIDLeaf(eax: 0x10, ebx: 0x6874_7541, ecx: 0x444D_4163, edx: 0x6974_6E65)
        : CPUIDLeaf(eax: 0x00A2_0F12, ebx: 0x0008_0800, ecx: 0x0000_0001, edx: 0x078B_FBFF)
    }
    func guestTimeStampCounter() -> UInt64 { 0x1_0000 }
    var timeStampCounterOffset: UInt64 { 0 }
    mutating func setFaultAddress(_ linear: UInt64) {}
    mutating func setGuestTimeStampCounter(_ value: UInt64) {}
  }

  final class Sink: ConsoleSink {
    var bytes: [UInt8] = []
    func write(_ byte: UInt8, from vmName: [UInt8]) { bytes.append(byte) }
  }

  /// CPUID (no reported length: the recorder must capture the bytes at RIP), OUT to the
  /// UART, RDTSC-free RDMSR of the TSC, HLT with interrupts off: four records.
  func recordSmallRun() -> [UInt8] {
    var profile = VMProfile(name: Array("rec".utf8))
    profile.memorySize = 1 << 20
    profile.traceExits = 3
    let vm = VirtualMachine(id: 7, profile: profile)
    vm.msrPolicy = MSRPolicy(vendor: .amd)
    let ram = calloc(1, 1 << 20)!
    defer { free(ram) }
    vm.memory.add(
      GuestMemoryRegion(guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: ram)), size: 1 << 20)
    )
    let sink = Sink()
    vm.installStandardDevices(console: sink)
    // 0x1000: CPUID; OUT DX, AL; RDMSR; HLT
    let code: [UInt8] = [0x0F, 0xA2, 0xEE, 0x0F, 0x32, 0xF4]
    code.withUnsafeBytes { _ = vm.memory.write($0, to: 0x1000) }
    let recorder = ExitTraceRecorder(
      limit: profile.traceExits,
      header: ExitTraceHeader(
        backend: .amdV, msrVendor: .amd, controlRegisterRules: vm.controlRegisterRules,
        profile: profile))
    let vcpu = vm.vcpus[0]
    vcpu.registers.rip = 0x1000
    vcpu.registers.rax = 1
    var guest = HostGuest()
    let exits = [
      VMExit(reason: .cpuid),
      VMExit(
        reason: .portIO(PortAccess(port: 0x3F8, size: 1, direction: .write)), instructionLength: 1),
      VMExit(reason: .msrRead),
      VMExit(reason: .halt),
    ]
    var outcomes: [ExitOutcome] = []
    for (index, exit) in exits.enumerated() {
      if index == 1 {
        vcpu.registers.rdx = 0x3F8
        vcpu.registers.rax = 0x41
      }
      if index == 2 { vcpu.registers.rcx = 0x10 }
      outcomes.append(
        recorder.dispatch(exit, vcpu: vcpu, vm: vm, guest: &guest, console: sink))
    }
    XCTAssertEqual(outcomes, [.resume, .resume, .resume, .stop(.haltedWithInterruptsDisabled)])
    XCTAssertEqual(sink.bytes, [0x41], "the UART saw the OUT")
    XCTAssertEqual(recorder.counts, [3], "only the first trace=3 exits are recorded")
    XCTAssertNil(vm.memory.readLog, "the memory log is off between exits")
    return recorder.fileBytes()
  }

  func testARecordedRunReplaysWithoutDivergence() throws {
    let file = try ExitTraceFile.decode(recordSmallRun()).get()
    XCTAssertEqual(file.records.count, 3)
    let cpuid = file.records[0]
    XCTAssertEqual(cpuid.after.rip, 0x1002)
    XCTAssertEqual(cpuid.after.rax, 0x00A2_0F12)
    XCTAssertTrue(
      cpuid.memory.contains { $0.guestPhysical == 0x1000 && $0.bytes.starts(with: [0x0F, 0xA2]) },
      "the bytes at RIP are in the record: \(cpuid.memory)")
    XCTAssertTrue(
      cpuid.guestCalls.contains(
        .hostCPUID(leaf: 1, subleaf: 0, result: HostGuest().hostCPUID(leaf: 1, subleaf: 0))))
    XCTAssertEqual(file.records[2].after.edxEax, 0x1_0000, "RDMSR TSC read the recorded TSC")
    let divergences = ExitTraceReplay(file).run()
    XCTAssertTrue(divergences.isEmpty, "\(divergences)")
  }

  func testAChangedRecordIsADivergence() throws {
    var file = try ExitTraceFile.decode(recordSmallRun()).get()
    file.records[0].after.rbx ^= 1
    var divergences = ExitTraceReplay(file).run()
    XCTAssertEqual(divergences.first?.record, 0)
    XCTAssertTrue(divergences.first?.what.contains("rbx") ?? false, "\(divergences)")

    file = try ExitTraceFile.decode(recordSmallRun()).get()
    // Without the bytes at RIP the CPUID exit reads zeros: not CPUID, so nothing is done.
    file.records[0].memory.removeAll()
    divergences = ExitTraceReplay(file).run()
    XCTAssertEqual(divergences.first?.record, 0, "\(divergences)")
  }

  func testTheByteBudgetIsAnEighthOfTheFreeHeapPerVCPUAndAtMostFourMiB() {
    // The kernel's 8 MiB heap with 7 MiB free: one vCPU may record 896 KiB, four 224 KiB.
    XCTAssertEqual(
      ExitTraceRecorder.byteLimit(largestFreeHeapBlock: 7 << 20, vcpuCount: 1), 896 << 10)
    XCTAssertEqual(
      ExitTraceRecorder.byteLimit(largestFreeHeapBlock: 7 << 20, vcpuCount: 4), 224 << 10)
    XCTAssertEqual(
      ExitTraceRecorder.byteLimit(largestFreeHeapBlock: 1 << 30, vcpuCount: 1), 4 << 20)
    XCTAssertEqual(ExitTraceRecorder.byteLimit(largestFreeHeapBlock: 0, vcpuCount: 0), 0)
  }
}
