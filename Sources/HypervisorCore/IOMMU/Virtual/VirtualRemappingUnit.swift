/// Where a virtual VT-d unit tells the hypervisor about a fault it recorded (the kernel: a
/// console line naming the VM and the device).
public protocol VirtualRemappingFaultReporter: AnyObject {
  func report(_ fault: RemappingFault, code: UInt8)
}

/// A guest's virtual Intel VT-d unit (docs/virtual-iommu.md) on the q35 register page
/// (`VirtualRemappingIdentity`): DMA remapping of the VM's emulated PCI functions through
/// the guest's root, context and second-level tables (SecondLevelWalk), interrupt remapping
/// of their MSIs and of the I/O APIC's redirection entries (InterruptRemappingLookup),
/// register-based and queued invalidation (VirtualRemappingUnit+Queue) and one fault
/// record. Every table is read from the VM's RAM at each use and nothing is cached, so
/// every invalidation is complete as soon as it is issued.
///
/// Accesses come under the VM's device lock: MMIO exits, the devices' DMA and interrupts.
/// Registers are 32-bit; a 64-bit access is its low then its high half (§11.2: software
/// may access 64-bit registers as two 32-bit halves, low first).
public final class VirtualRemappingUnit: MMIODevice {
  public var registers = VirtualRemappingRegisters()
  let memory: GuestMemoryMap
  /// Fault and invalidation-completion events go straight to the local APICs: they are
  /// not subject to remapping (§7.3, §6.5.2.8).
  var events: (any MessageSignaledInterruptSink)?
  public var reporter: (any VirtualRemappingFaultReporter)?
  /// Faults found (recorded or not), DMA translations and remapped interrupts.
  public private(set) var faults: UInt64 = 0
  public private(set) var translations: UInt64 = 0
  public private(set) var remappedInterrupts: UInt64 = 0

  public init(memory: GuestMemoryMap, events: (any MessageSignaledInterruptSink)?) {
    self.memory = memory
    self.events = events
  }

  public var capability: RemappingCapability { VirtualRemappingIdentity.capability }
  public var extendedCapability: RemappingExtendedCapability {
    VirtualRemappingIdentity.extendedCapability
  }
  var translationEnabled: Bool {
    registers.globalStatus & RemappingGlobalBit.translationEnable != 0
  }

  // MARK: DMA and interrupts of the VM's devices

  /// The guest-physical address a DMA of `requester` to `address` reaches, or nil when the
  /// unit blocks it (the fault recorded unless the context entry disables it). With
  /// translation off the address is guest-physical already.
  public func translate(_ address: UInt64, write: Bool, requester: RequesterID) -> UInt64? {
    guard translationEnabled else { return address }
    translations &+= 1
    switch SecondLevelWalk.translate(
      address, write: write, requester: requester, rootTable: registers.rootTable,
      capability: capability, passThrough: extendedCapability.passThrough, memory: memory)
    {
    case .translated(let physical): return physical
    case .fault(let code, let quiet):
      noteFault(
        RemappingFault(
          requester: requester, address: address & ~0xFFF,
          reason: RemappingFaultReason(code: code), isRead: !write),
        code: code, record: !quiet)
      return nil
    }
  }

  /// Remaps an interrupt request (an MSI's address and data, or an I/O APIC entry's
  /// message): `.unchanged` to deliver as is, the target, or `.blocked`.
  public func remap(address: UInt64, data: UInt32, requester: RequesterID?)
    -> InterruptRemappingLookup.Outcome
  {
    let status = registers.globalStatus
    let outcome = InterruptRemappingLookup.remap(
      address: address, data: data, requester: requester, tableAddress: registers.interruptTable,
      enabled: status & RemappingGlobalBit.interruptRemapping != 0,
      compatibilityAllowed: status & RemappingGlobalBit.compatibilityFormatInterrupts != 0,
      memory: memory)
    switch outcome {
    case .unchanged: break
    case .remapped: remappedInterrupts &+= 1
    case .blocked(let code, let quiet, let index):
      noteFault(
        RemappingFault(
          requester: requester ?? RequesterID(sourceID: 0), address: UInt64(index) << 48,
          reason: RemappingFaultReason(code: code), isRead: false),
        code: code, record: !quiet)
    }
    return outcome
  }

  // MARK: Faults (§7.2, §7.3)

  /// Counts and reports a fault and, unless disabled, records it: into the one record when
  /// it is free (PPF then set, and the fault event sent), else PFO (§7.2.1).
  func noteFault(_ fault: RemappingFault, code: UInt8, record: Bool) {
    faults &+= 1
    reporter?.report(fault, code: code)
    guard record else { return }
    guard registers.faultRecordHigh & RemappingFault.validBit == 0 else {
      registers.faultStatus |= RemappingFaultStatus.overflow
      return
    }
    registers.faultRecordLow = fault.address
    registers.faultRecordHigh =
      RemappingFault.validBit | (fault.isRead ? 1 << 62 : 0) | UInt64(code) << 32
      | UInt64(fault.requester.sourceID)
    registers.faultStatus |= RemappingFaultStatus.pending  // FRI = 0: the only record
    signalEvent(.fault)
  }

  enum Event { case fault, invalidation }

  /// An event interrupt (fault or invalidation completion): sent unless masked, else left
  /// pending (IP) until the guest unmasks it (§7.3.1, §6.5.2.8).
  func signalEvent(_ event: Event) {
    var control: UInt32
    let message: (UInt32, UInt32)
    switch event {
    case .fault:
      control = registers.faultEventControl
      message = (registers.faultEventAddress, registers.faultEventData)
    case .invalidation:
      control = registers.invalidationEventControl
      message = (registers.invalidationEventAddress, registers.invalidationEventData)
    }
    if control & VirtualRemappingBit.interruptMask != 0 {
      control |= VirtualRemappingBit.interruptPending
    } else {
      control &= ~VirtualRemappingBit.interruptPending
      events?.signal(address: UInt64(message.0), data: message.1)
    }
    switch event {
    case .fault: registers.faultEventControl = control
    case .invalidation: registers.invalidationEventControl = control
    }
  }

  /// PPF follows the record's F bit; a cleared record clears it (§11.4.7.1).
  func refreshPending() {
    if registers.faultRecordHigh & RemappingFault.validBit == 0 {
      registers.faultStatus &= ~RemappingFaultStatus.pending
    }
  }
}
