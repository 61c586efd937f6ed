/// One error a bank reported, as a poll found it.
public struct MachineCheckRecord: Equatable {
  public var millisecondsSinceBoot: UInt64
  public var cpu: Int
  public var bank: Int
  public var status: MachineCheckStatus
  /// IA32_MCi_ADDR and IA32_MCi_MISC when the status says they are valid, else 0.
  public var address: UInt64
  public var misc: UInt64

  public init(
    millisecondsSinceBoot: UInt64, cpu: Int, bank: Int, status: MachineCheckStatus,
    address: UInt64 = 0, misc: UInt64 = 0
  ) {
    self.millisecondsSinceBoot = millisecondsSinceBoot
    self.cpu = cpu
    self.bank = bank
    self.status = status
    self.address = address
    self.misc = misc
  }
}

/// One CPU's machine-check banks, polled (SDM 3B §15.5: without CMCI, software polls
/// MCi_STATUS for corrected errors). Each CPU owns one and reads only its own banks:
/// the banks are per-processor (or per-core) MSRs. The MSR access is passed in, so the
/// rule is tested on the host.
public struct MachineCheckMonitor {
  /// Most recent errors kept for the health rule and history.
  public static let recentCapacity = 32

  public let cpu: Int
  public let capabilities: MachineCheckCapabilities
  /// Corrected and uncorrected errors per bank since boot.
  public private(set) var correctedPerBank: [UInt64]
  public private(set) var uncorrectedPerBank: [UInt64]
  /// The last `recentCapacity` errors, oldest first.
  public private(set) var recent: [MachineCheckRecord] = []
  public private(set) var polls: UInt64 = 0

  public var bankCount: Int { correctedPerBank.count }
  public var corrected: UInt64 { correctedPerBank.reduce(0, &+) }
  public var uncorrected: UInt64 { uncorrectedPerBank.reduce(0, &+) }

  public init(cpu: Int, capabilities: MachineCheckCapabilities) {
    self.cpu = cpu
    self.capabilities = capabilities
    let banks = min(capabilities.bankCount, MachineCheckRegisters.maximumBanks)
    correctedPerBank = Array(repeating: 0, count: banks)
    uncorrectedPerBank = Array(repeating: 0, count: banks)
  }

  /// Enables every bank as SDM 3B §15.8 says at initialisation: IA32_MCG_CTL all ones
  /// when present, each IA32_MCi_CTL all ones, each IA32_MCi_STATUS cleared (what a
  /// previous boot left is read first, by the first poll, so clear only after it).
  /// Bank 0's CTL is left as firmware set it on P6-family processors; writing all ones is
  /// what the SDM prescribes for later families and what QEMU and AMD (APM 2 §9.3) accept.
  public func enable(write: (UInt32, UInt64) -> Void) {
    if capabilities.hasGlobalControl { write(MachineCheckRegisters.globalControl, ~0) }
    for bank in 0..<bankCount { write(MachineCheckRegisters.control(bank: bank), ~0) }
  }

  /// Reads every bank once: a valid error is counted, its ADDR/MISC read when valid, the
  /// status cleared (a write of 0, §15.3.2.2). Returns the errors found.
  @discardableResult
  public mutating func poll(
    now millisecondsSinceBoot: UInt64, read: (UInt32) -> UInt64, write: (UInt32, UInt64) -> Void
  ) -> [MachineCheckRecord] {
    polls &+= 1
    var found: [MachineCheckRecord] = []
    for bank in 0..<bankCount {
      let status = MachineCheckStatus(read(MachineCheckRegisters.status(bank: bank)))
      guard status.isValid else { continue }
      let record = MachineCheckRecord(
        millisecondsSinceBoot: millisecondsSinceBoot, cpu: cpu, bank: bank, status: status,
        address: status.addressValid ? read(MachineCheckRegisters.address(bank: bank)) : 0,
        misc: status.miscValid ? read(MachineCheckRegisters.misc(bank: bank)) : 0)
      write(MachineCheckRegisters.status(bank: bank), 0)
      if status.uncorrected {
        uncorrectedPerBank[bank] &+= 1
      } else {
        correctedPerBank[bank] &+= status.correctedErrors
      }
      found.append(record)
      recent.append(record)
      if recent.count > Self.recentCapacity {
        recent.removeFirst(recent.count - Self.recentCapacity)
      }
    }
    return found
  }
}
