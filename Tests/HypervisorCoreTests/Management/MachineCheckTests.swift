import HypervisorCore
import XCTest

/// MCi_STATUS decoding (SDM 3B §15.3.2.2), the polling of a CPU's banks, the health rule on
/// corrected errors and the bounded health history (docs/node-health.md).
final class MachineCheckTests: XCTestCase {
  /// VAL | EN | error code 1: what `peregrine node inject-mce` injects.
  private let corrected: UInt64 = 0x9000_0000_0000_0001

  func testStatusBitsDecode() {
    let status = MachineCheckStatus(0xFE00_0000_0123_0045 | 5 << 38)
    XCTAssertTrue(status.isValid)
    XCTAssertTrue(status.overflow)
    XCTAssertTrue(status.uncorrected)
    XCTAssertTrue(status.enabled)
    XCTAssertTrue(status.miscValid)
    XCTAssertTrue(status.addressValid)
    XCTAssertTrue(status.contextCorrupt)
    XCTAssertEqual(status.errorCode, 0x0045)
    XCTAssertEqual(status.modelSpecificCode, 0x0123)
    XCTAssertEqual(status.correctedErrorCount, 5)
    XCTAssertFalse(status.isCorrected)
    XCTAssertEqual(status.correctedErrors, 0, "an uncorrected error is not counted as corrected")
    let plain = MachineCheckStatus(corrected)
    XCTAssertTrue(plain.isCorrected)
    XCTAssertFalse(plain.overflow || plain.miscValid || plain.addressValid || plain.contextCorrupt)
    XCTAssertEqual(plain.errorCode, 1)
    XCTAssertEqual(plain.correctedErrors, 1)
    XCTAssertEqual(MachineCheckStatus(corrected | 1 << 62).correctedErrors, 2, "overflow: one lost")
    XCTAssertEqual(MachineCheckStatus(corrected | 0x7FFF << 38).correctedErrors, 0x7FFF)
    XCTAssertEqual(MachineCheckStatus(0x1000_0000_0000_0001).correctedErrors, 0, "not valid")
  }

  func testCapabilitiesDecode() {
    // QEMU's default: 10 banks, MCG_CTL_P, MCG_SER_P (bit 24).
    let qemu = MachineCheckCapabilities(0x0100_010A)
    XCTAssertEqual(qemu.bankCount, 10)
    XCTAssertTrue(qemu.hasGlobalControl)
    XCTAssertFalse(qemu.hasCMCI)
    XCTAssertTrue(MachineCheckCapabilities(0x406).hasCMCI)
    XCTAssertEqual(MachineCheckRegisters.status(bank: 9), 0x425)
    XCTAssertEqual(MachineCheckRegisters.misc(bank: 0), 0x403)
  }

  /// A fake CPU's MSRs.
  private final class Registers {
    var values: [UInt32: UInt64] = [:]
    var reads = 0
    var writes: [(UInt32, UInt64)] = []
    func read(_ index: UInt32) -> UInt64 {
      reads += 1
      return values[index] ?? 0
    }
    func write(_ index: UInt32, _ value: UInt64) {
      writes.append((index, value))
      values[index] = value
    }
  }

  func testEnableSetsEveryBankControlToAllOnes() {
    let registers = Registers()
    let monitor = MachineCheckMonitor(cpu: 0, capabilities: MachineCheckCapabilities(0x103))
    monitor.enable(write: registers.write)
    XCTAssertEqual(registers.writes.map(\.0), [0x17B, 0x400, 0x404, 0x408])
    XCTAssertTrue(registers.writes.allSatisfy { $0.1 == ~0 })
    let noGlobal = MachineCheckMonitor(cpu: 0, capabilities: MachineCheckCapabilities(2))
    registers.writes = []
    noGlobal.enable(write: registers.write)
    XCTAssertEqual(registers.writes.map(\.0), [0x400, 0x404], "no MCG_CTL without MCG_CTL_P")
  }

  func testPollCountsClearsAndReadsAddressOnlyWhenValid() {
    let registers = Registers()
    var monitor = MachineCheckMonitor(cpu: 1, capabilities: MachineCheckCapabilities(4))
    XCTAssertEqual(monitor.poll(now: 10, read: registers.read, write: registers.write), [])
    XCTAssertEqual(registers.reads, 4, "one read per bank when nothing is valid")
    registers.values[0x405] = corrected | 1 << 58  // bank 1, ADDRV
    registers.values[0x406] = 0xDEAD_0000
    registers.values[0x40D] = 0xB200_0000_0000_0150  // bank 3: VAL UC EN PCC
    registers.reads = 0
    let found = monitor.poll(now: 20, read: registers.read, write: registers.write)
    XCTAssertEqual(found.map(\.bank), [1, 3])
    XCTAssertEqual(found[0].address, 0xDEAD_0000)
    XCTAssertEqual(found[0].misc, 0, "MISCV clear: MISC not read")
    XCTAssertEqual(registers.reads, 5, "4 statuses and one ADDR")
    XCTAssertEqual(registers.values[0x405], 0, "status cleared")
    XCTAssertEqual(registers.values[0x40D], 0)
    XCTAssertEqual(monitor.correctedPerBank, [0, 1, 0, 0])
    XCTAssertEqual(monitor.uncorrectedPerBank, [0, 0, 0, 1])
    XCTAssertEqual(monitor.corrected, 1)
    XCTAssertEqual(monitor.uncorrected, 1)
    XCTAssertEqual(monitor.polls, 2)
    for time in 0..<40 {
      registers.values[0x401] = corrected
      monitor.poll(now: 100 + UInt64(time), read: registers.read, write: registers.write)
    }
    XCTAssertEqual(monitor.correctedPerBank[0], 40)
    XCTAssertEqual(monitor.recent.count, MachineCheckMonitor.recentCapacity, "bounded")
    XCTAssertEqual(monitor.recent.last?.millisecondsSinceBoot, 139, "newest kept")
  }

  private func record(bank: Int, at milliseconds: UInt64, status: UInt64? = nil)
    -> MachineCheckRecord
  {
    MachineCheckRecord(
      millisecondsSinceBoot: milliseconds, cpu: 0, bank: bank,
      status: MachineCheckStatus(status ?? corrected))
  }

  func testCorrectedErrorsInTheWindowAboveTheThresholdDegrade() {
    let threshold = Int(NodeHealth.correctedMachineCheckThreshold)
    let now: UInt64 = 200_000
    let inWindow = (0..<threshold).map { record(bank: 2, at: now - 1000 * UInt64($0)) }
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [], freeBytes: 1 << 30, totalBytes: 1 << 30, failedVMs: 0,
        machineChecks: inWindow, now: now),
      [.correctedMachineChecks(bank: 2, count: UInt64(threshold))])
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [], freeBytes: 1 << 30, totalBytes: 1 << 30, failedVMs: 0,
        machineChecks: Array(inWindow.dropLast()), now: now),
      [], "one under the threshold")
    let old = (0..<threshold).map {
      record(bank: 2, at: now - NodeHealth.machineCheckWindowMilliseconds - 1 - UInt64($0))
    }
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [], freeBytes: 1 << 30, totalBytes: 1 << 30, failedVMs: 0,
        machineChecks: old, now: now),
      [], "errors older than the window no longer count")
    let spread = (0..<threshold).map { record(bank: $0, at: now) }
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [], freeBytes: 1 << 30, totalBytes: 1 << 30, failedVMs: 0,
        machineChecks: spread, now: now),
      [], "the threshold is per bank")
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [], freeBytes: 1 << 30, totalBytes: 1 << 30, failedVMs: 0,
        uncorrectedMachineChecks: 1, now: now),
      [.uncorrectedMachineChecks(count: 1)])
  }

  func testTheWindowIsTheOneTheProtocolNames() {
    XCTAssertEqual(NodeHealth.machineCheckWindowMilliseconds, 60_000)
  }

  func testHistoryRecordsTransitionsOnlyAndStaysBounded() {
    var history = HealthHistory(capacity: 3)
    history.observe(problemCount: 0, at: 1)
    XCTAssertEqual(history.events, [], "healthy from the start: nothing happened")
    history.observe(problemCount: 2, at: 5)
    history.observe(problemCount: 1, at: 6)
    history.observe(problemCount: 0, at: 9)
    XCTAssertEqual(history.events.map(\.kind), [.becameDegraded, .becameHealthy])
    XCTAssertEqual(history.events.map(\.millisecondsSinceBoot), [5, 9])
    history.observe(problemCount: 1, at: 10)
    history.observe(problemCount: 0, at: 11)
    XCTAssertEqual(history.events.map(\.millisecondsSinceBoot), [9, 10, 11], "oldest dropped")
    var machineCheck = record(bank: 4, at: 7)
    machineCheck.cpu = 1
    let merged = history.merged(with: [machineCheck], limit: 3)
    XCTAssertEqual(merged.map(\.millisecondsSinceBoot), [9, 10, 11], "newest 3 by time")
    let all = history.merged(with: [machineCheck], limit: 10)
    XCTAssertEqual(
      all.map(\.kind), [.correctedMachineCheck, .becameHealthy, .becameDegraded, .becameHealthy])
    XCTAssertEqual(all[0].cpu, 1)
    XCTAssertEqual(all[0].bank, 4)
    XCTAssertEqual(all[0].value, 1)
  }
}
