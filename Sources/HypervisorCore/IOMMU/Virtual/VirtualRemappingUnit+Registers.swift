/// The register page as the guest reads and writes it (VT-d spec rev 4.1 §11.4).
extension VirtualRemappingUnit {
  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    switch size {
    case 4: return UInt64(read32(Int(offset)))
    case 8: return UInt64(read32(Int(offset))) | UInt64(read32(Int(offset) + 4)) << 32
    default: return 0  // §11.2: registers are accessed as 32- or 64-bit
    }
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    switch size {
    case 4: write32(Int(offset), UInt32(truncatingIfNeeded: value))
    case 8:
      write32(Int(offset), UInt32(truncatingIfNeeded: value))
      write32(Int(offset) + 4, UInt32(truncatingIfNeeded: value >> 32))
    default: break
    }
    return .none
  }

  static func low(_ value: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: value) }
  static func high(_ value: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: value >> 32) }
  static func setLow(_ value: inout UInt64, _ half: UInt32) {
    value = value & 0xFFFF_FFFF_0000_0000 | UInt64(half)
  }
  static func setHigh(_ value: inout UInt64, _ half: UInt32) {
    value = value & 0xFFFF_FFFF | UInt64(half) << 32
  }

  func read32(_ offset: Int) -> UInt32 {
    let r = registers
    let iotlb = VirtualRemappingIdentity.iotlbOffset
    let record = VirtualRemappingIdentity.faultRecordOffset
    switch offset {
    case RemappingRegister.version: return VirtualRemappingIdentity.version
    case RemappingRegister.capability: return Self.low(capability.raw)
    case RemappingRegister.capability + 4: return Self.high(capability.raw)
    case RemappingRegister.extendedCapability: return Self.low(extendedCapability.raw)
    case RemappingRegister.extendedCapability + 4: return Self.high(extendedCapability.raw)
    case RemappingRegister.globalStatus: return r.globalStatus
    case RemappingRegister.rootTableAddress: return Self.low(r.rootTableAddress)
    case RemappingRegister.rootTableAddress + 4: return Self.high(r.rootTableAddress)
    case RemappingRegister.contextCommand: return Self.low(r.contextCommand)
    case RemappingRegister.contextCommand + 4: return Self.high(r.contextCommand)
    case RemappingRegister.faultStatus: return r.faultStatus
    case RemappingRegister.faultEventControl: return r.faultEventControl
    case RemappingRegister.faultEventData: return r.faultEventData
    case RemappingRegister.faultEventAddress: return r.faultEventAddress
    case RemappingRegister.faultEventUpperAddress: return r.faultEventUpperAddress
    case InterruptRemappingRegister.queueHead: return Self.low(r.queueHead)
    case InterruptRemappingRegister.queueTail: return Self.low(r.queueTail)
    case InterruptRemappingRegister.queueAddress: return Self.low(r.queueAddress)
    case InterruptRemappingRegister.queueAddress + 4: return Self.high(r.queueAddress)
    case InterruptRemappingRegister.completionStatus: return r.completionStatus
    case RemappingRegister.invalidationEventControl: return r.invalidationEventControl
    case RemappingRegister.invalidationEventData: return r.invalidationEventData
    case RemappingRegister.invalidationEventAddress: return r.invalidationEventAddress
    case RemappingRegister.invalidationEventUpperAddress: return r.invalidationEventUpperAddress
    case InterruptRemappingRegister.tableAddress: return Self.low(r.interruptTableAddress)
    case InterruptRemappingRegister.tableAddress + 4: return Self.high(r.interruptTableAddress)
    case iotlb: return Self.low(r.invalidateAddress)
    case iotlb + 4: return Self.high(r.invalidateAddress)
    case iotlb + 8: return Self.low(r.iotlbCommand)
    case iotlb + 12: return Self.high(r.iotlbCommand)
    case record: return Self.low(r.faultRecordLow)
    case record + 4: return Self.high(r.faultRecordLow)
    case record + 8: return Self.low(r.faultRecordHigh)
    case record + 12: return Self.high(r.faultRecordHigh)
    default: return 0  // reserved and unimplemented registers read 0
    }
  }

  func write32(_ offset: Int, _ value: UInt32) {
    let iotlb = VirtualRemappingIdentity.iotlbOffset
    let record = VirtualRemappingIdentity.faultRecordOffset
    switch offset {
    case RemappingRegister.globalCommand: globalCommand(value)
    case RemappingRegister.rootTableAddress: Self.setLow(&registers.rootTableAddress, value)
    case RemappingRegister.rootTableAddress + 4: Self.setHigh(&registers.rootTableAddress, value)
    case RemappingRegister.contextCommand: Self.setLow(&registers.contextCommand, value)
    case RemappingRegister.contextCommand + 4:
      // ICC (63): done at once (nothing is cached); CAIG (60:59) reports CIRG (62:61).
      var command = registers.contextCommand
      Self.setHigh(&command, value)
      if command & 1 << 63 != 0 {
        command = command & ~(1 << 63 | 3 << 59) | (command >> 61 & 3) << 59
      }
      registers.contextCommand = command
    case RemappingRegister.faultStatus:
      // PFO (0), IQE (4), ICE (5), ITE (6) are write-1-to-clear; PPF follows the record.
      registers.faultStatus &= ~(value & 0b111_0001)
      refreshPending()
    case RemappingRegister.faultEventControl: eventControl(.fault, value)
    case RemappingRegister.faultEventData: registers.faultEventData = value
    case RemappingRegister.faultEventAddress: registers.faultEventAddress = value & ~3
    case RemappingRegister.faultEventUpperAddress: registers.faultEventUpperAddress = value
    case InterruptRemappingRegister.queueTail:
      registers.queueTail = UInt64(value & 0x7_FFF0)
      processQueue()
    case InterruptRemappingRegister.queueAddress:
      Self.setLow(&registers.queueAddress, value & ~0x7F8)
    case InterruptRemappingRegister.queueAddress + 4:
      Self.setHigh(&registers.queueAddress, value)
    case InterruptRemappingRegister.completionStatus:
      registers.completionStatus &= ~(value & VirtualRemappingBit.waitComplete)
    case RemappingRegister.invalidationEventControl: eventControl(.invalidation, value)
    case RemappingRegister.invalidationEventData: registers.invalidationEventData = value
    case RemappingRegister.invalidationEventAddress:
      registers.invalidationEventAddress = value & ~3
    case RemappingRegister.invalidationEventUpperAddress:
      registers.invalidationEventUpperAddress = value
    case InterruptRemappingRegister.tableAddress:
      Self.setLow(&registers.interruptTableAddress, value & ~0x7F0)
    case InterruptRemappingRegister.tableAddress + 4:
      Self.setHigh(&registers.interruptTableAddress, value)
    case iotlb: Self.setLow(&registers.invalidateAddress, value)
    case iotlb + 4: Self.setHigh(&registers.invalidateAddress, value)
    case iotlb + 8: Self.setLow(&registers.iotlbCommand, value)
    case iotlb + 12:
      // IVT (63): done at once; IAIG (58:57) reports IIRG (61:60).
      var command = registers.iotlbCommand
      Self.setHigh(&command, value)
      if command & 1 << 63 != 0 {
        command = command & ~(1 << 63 | 3 << 57) | (command >> 60 & 3) << 57
      }
      registers.iotlbCommand = command
    case record + 12:
      // F (127) is write-1-to-clear; the rest of the record is read-only.
      if value & 1 << 31 != 0 {
        registers.faultRecordHigh &= ~RemappingFault.validBit
        refreshPending()
      }
    default: break  // read-only, reserved and unimplemented registers ignore writes
    }
  }

  /// GCMD (§11.4.4.1): each bit asks for its status bit. TE, QIE, IRE and CFI are states
  /// (the guest writes them back with every command); SRTP and SIRTP are one-shot: each
  /// write with them set latches the table pointer again and sets RTPS / IRTPS. WBF needs
  /// nothing (no CAP.RWBF). SFL and EAFL: no advanced fault logging (CAP.AFL = 0).
  func globalCommand(_ command: UInt32) {
    var status = registers.globalStatus
    let states: [UInt32] = [
      RemappingGlobalBit.translationEnable, RemappingGlobalBit.interruptRemapping,
      RemappingGlobalBit.compatibilityFormatInterrupts,
    ]
    for bit in states {
      status = command & bit != 0 ? status | bit : status & ~bit
    }
    if command & RemappingGlobalBit.setRootTablePointer != 0 {
      registers.rootTable = registers.rootTableAddress & ~0xFFF
      status |= RemappingGlobalBit.setRootTablePointer
    }
    if command & RemappingGlobalBit.setInterruptTablePointer != 0 {
      registers.interruptTable = registers.interruptTableAddress & ~0x7F0
      status |= RemappingGlobalBit.setInterruptTablePointer
    }
    let queue = RemappingGlobalBit.queuedInvalidation
    if command & queue != 0, status & queue == 0 {
      registers.queueHead = 0  // enabling the queue resets IQH (§6.5.2)
      status |= queue
    } else if command & queue == 0, status & queue != 0 {
      status &= ~queue  // disabling it (the guest first lets it drain)
    }
    registers.globalStatus = status
  }

  /// FECTL / IECTL: only IM is writable; unmasking a pending event sends it (§7.3.1).
  func eventControl(_ event: Event, _ value: UInt32) {
    var control: UInt32
    switch event {
    case .fault: control = registers.faultEventControl
    case .invalidation: control = registers.invalidationEventControl
    }
    let mask = VirtualRemappingBit.interruptMask
    control = control & ~mask | value & mask
    switch event {
    case .fault: registers.faultEventControl = control
    case .invalidation: registers.invalidationEventControl = control
    }
    if value & mask == 0, control & VirtualRemappingBit.interruptPending != 0 {
      signalEvent(event)
    }
  }
}
