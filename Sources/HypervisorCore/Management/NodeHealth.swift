/// What makes a node degraded (docs/lifecycle.md, "Node health"), as the kernel measures
/// it: a CPU stuck in the hypervisor, memory running out, VMs the hypervisor had to end for
/// a fault. Platform-neutral so that the rule is tested on the host.
public enum NodeHealthProblem: Equatable {
  /// CPU `cpu` has not come round its scheduler loop for `milliseconds`, while neither in
  /// a guest's slice nor asleep with nothing to do.
  case cpuStalled(cpu: Int, milliseconds: UInt64)
  /// Free memory under `NodeHealth.lowMemoryFraction` of the total and under
  /// `NodeHealth.lowMemoryBytes`.
  case lowMemory(freeBytes: UInt64)
  /// VMs ended by a fault since boot (`StopReason.isFailure`).
  case failedVMs(count: Int)
  /// `count` corrected machine-check errors in bank `bank` (all CPUs) within the last
  /// `NodeHealth.machineCheckWindowMilliseconds`: a precursor of failure (issue 15).
  case correctedMachineChecks(bank: Int, count: UInt64)
  /// Errors the processor did not correct, since boot.
  case uncorrectedMachineChecks(count: UInt64)
}

/// One CPU's heartbeat as the health rule reads it.
public struct CPUHeartbeat: Equatable {
  /// Milliseconds since it last passed the top of its scheduler loop.
  public var ageMilliseconds: UInt64
  /// In a guest's slice (a guest that does not exit keeps its CPU; its time, not a stall),
  /// or asleep in HLT with nothing to run.
  public var busyElsewhere: Bool

  public init(ageMilliseconds: UInt64, busyElsewhere: Bool) {
    self.ageMilliseconds = ageMilliseconds
    self.busyElsewhere = busyElsewhere
  }
}

public enum NodeHealth {
  /// A CPU's loop passes every slice (at most 10 ms) or every wake-up: 2 s without one,
  /// outside a guest and not asleep, is a hypervisor stuck (a lock, an endless handler).
  public static let stallMilliseconds: UInt64 = 2000
  public static let lowMemoryBytes: UInt64 = 16 << 20
  public static let lowMemoryFraction: UInt64 = 32
  /// Corrected machine-check errors: this many in one bank within the window degrade the
  /// node. A single corrected error is normal wear (a cosmic-ray bit flip); several in a
  /// minute is a part on its way out.
  public static let correctedMachineCheckThreshold: UInt64 = 3
  public static let machineCheckWindowMilliseconds: UInt64 = 60_000

  /// The problems, in a fixed order (CPUs by index, then memory, then VMs); none: healthy.
  public static func problems(
    heartbeats: [CPUHeartbeat], freeBytes: UInt64, totalBytes: UInt64, failedVMs: Int,
    machineChecks: [MachineCheckRecord] = [], uncorrectedMachineChecks: UInt64 = 0,
    now: UInt64 = 0
  ) -> [NodeHealthProblem] {
    var problems: [NodeHealthProblem] = []
    for (cpu, beat) in heartbeats.enumerated()
    where !beat.busyElsewhere && beat.ageMilliseconds > stallMilliseconds {
      problems.append(.cpuStalled(cpu: cpu, milliseconds: beat.ageMilliseconds))
    }
    if freeBytes < lowMemoryBytes && freeBytes < totalBytes / lowMemoryFraction {
      problems.append(.lowMemory(freeBytes: freeBytes))
    }
    if failedVMs > 0 { problems.append(.failedVMs(count: failedVMs)) }
    for (bank, count) in correctedPerBank(machineChecks, now: now)
    where count >= correctedMachineCheckThreshold {
      problems.append(.correctedMachineChecks(bank: bank, count: count))
    }
    if uncorrectedMachineChecks > 0 {
      problems.append(.uncorrectedMachineChecks(count: uncorrectedMachineChecks))
    }
    return problems
  }

  /// Corrected errors per bank within the window ending at `now`, by bank number.
  public static func correctedPerBank(_ records: [MachineCheckRecord], now: UInt64) -> [(
    Int, UInt64
  )] {
    let since = now > machineCheckWindowMilliseconds ? now - machineCheckWindowMilliseconds : 0
    // No Dictionary: banks are few and numbered (MachineCheckRegisters.maximumBanks).
    var counts = [UInt64](repeating: 0, count: MachineCheckRegisters.maximumBanks)
    for record in records
    where record.status.isCorrected && record.millisecondsSinceBoot >= since
      && record.millisecondsSinceBoot <= now && record.bank < counts.count
    {
      counts[record.bank] &+= record.status.correctedErrors
    }
    return counts.enumerated().filter { $0.element > 0 }.map { ($0.offset, $0.element) }
  }
}

extension StopReason {
  /// The hypervisor ended the VM for a fault (its own or the guest's): not an end the guest
  /// or the operator asked for, nor a guest that halted for good.
  public var isFailure: Bool {
    switch self {
    case .guestRequested, .debugExit, .poweredOff, .reset, .haltedWithInterruptsDisabled,
      .haltedWithoutInterruptSource, .operatorRequest:
      return false
    case .shutdown, .unmappedAccess, .unsupportedMMIOInstruction, .eventDeliveryFailed,
      .stringIOOperandNotRAM, .instructionFetchFailed, .unexpectedExit, .entryFailure,
      .exitStorm:
      return true
    }
  }
}
