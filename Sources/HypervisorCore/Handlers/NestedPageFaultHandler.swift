import Memory

/// A guest-physical access nested paging refused: MMIO to a device model (the instruction
/// is fetched, decoded, checked against the fault and emulated), or an access to nothing,
/// which stops the VM or gets the architectural answer, as the VM's profile says.
public enum NestedPageFaultHandler {
  /// Kept out of line, so that the hot exits the dispatcher inlines do not carry its code.
  @inline(never)
  public static func handle<Guest: GuestStateAccess>(
    _ fault: NestedPageFault, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: inout Guest
  ) -> ExitOutcome {
    let address = fault.guestPhysical
    // The processor was delivering an event when it touched this address (IDT, GDT, TSS or
    // stack): there is no instruction to emulate, and performing the one at RIP would be
    // wrong. The VM stops; the run loop's re-injection of the event is never entered.
    if let vector = exit.interruptedEventVector {
      return .stop(.eventDeliveryFailed(vector: vector, guestPhysical: address))
    }
    let entry = vcpu.localDevices.entry(for: address) ?? vm.mmio.entry(for: address)
    let unmapped = StopReason.unmappedAccess(
      guestPhysical: address, access: fault.access, beyondMemory: address >= vm.memory.end)
    if fault.access == .instructionFetch { return .stop(unmapped) }
    let mode = guest.mode()
    // Under unmapped=stop an access to nothing ends the VM, unless the guest's own paging
    // forbids it (below): the processor checks that first, and the answer is the guest's
    // #PF. With paging off there is nothing to check. Any other way out stops as before.
    let stopsHere = entry == nil && vm.profile.unmapped == .stop
    if stopsHere && !mode.pagingEnabled { return .stop(unmapped) }
    let rip = vcpu.registers.rip
    guard let bytes = InstructionFetcher.fetch(rip: rip, mode: mode, memory: vm.memory) else {
      return .stop(stopsHere ? unmapped : .instructionFetchFailed(rip: rip))
    }
    let decoded: DecodedMemoryAccess
    switch MemoryAccessDecoder.decode(bytes, width: mode.width) {
    case .success(let access): decoded = access
    case .failure(let error):
      let opcode: UInt8
      if case .unsupportedOpcode(let byte) = error { opcode = byte } else { opcode = bytes[0] }
      if stopsHere { return .stop(unmapped) }
      return .stop(.unsupportedMMIOInstruction(guestPhysical: address, opcode: opcode))
    }
    // MOVS, CMPS, LODS, SCAS: two operands, either of which may be the one that faulted.
    if case .string = decoded.instruction {
      return StringMemoryAccess.handle(
        decoded, fault: fault, unmapped: unmapped, stopsHere: stopsHere, vcpu: vcpu, vm: vm,
        mode: mode, guest: &guest)
    }
    // The bytes read now must be the instruction that faulted: its operand must be at the
    // faulting address (a guest that changed its page tables without INVLPG may run other
    // bytes from its TLB). Otherwise nothing is emulated and the guest executes it again;
    // no progress is recorded, so a guest that keeps this up ends as an exit storm.
    guard
      let layout = AccessLayout.locate(
        decoded, fault: fault, registers: vcpu.registers, mode: mode, memory: vm.memory)
    else {
      if stopsHere { return .stop(unmapped) }
      vcpu.statistics.decodeMismatches &+= 1
      return .resume
    }
    if case .vectorMove(let move) = decoded.instruction,
      VectorMemoryAccess.misaligned(move, linear: layout.linear)
    {
      if stopsHere { return .stop(unmapped) }
      vcpu.pendingEvent = .exception(vector: 13, errorCode: 0)
      return .resume
    }
    // The guest's own paging protection comes first (SDM 3A §4.6): an access its tables
    // forbid is its #PF, with nothing emulated and RIP unchanged, even when the exit came
    // before the processor's check (QEMU's SVM, for CPL 3 and a supervisor page).
    if layout.secondNotPresent {
      // Nothing of a crossing access is performed when its second page faults.
      _ = LinearAccessCheck.raise(
        rights: nil, linear: layout.linear &+ UInt64(layout.first.count),
        write: decoded.instruction.isStore, vcpu: vcpu, mode: mode, guest: &guest)
      return .resume
    }
    if mode.pagingEnabled, let rights = layout.firstRights {
      let write = decoded.instruction.isStore
      if LinearAccessCheck.raise(
        rights: rights, linear: layout.linear, write: write, vcpu: vcpu, mode: mode,
        guest: &guest)
      {
        return .resume
      }
      if let second = layout.secondRights,
        LinearAccessCheck.raise(
          rights: second, linear: layout.linear &+ UInt64(layout.first.count), write: write,
          vcpu: vcpu, mode: mode, guest: &guest)
      {
        return .resume
      }
    }
    if stopsHere { return .stop(unmapped) }
    if entry == nil { vcpu.statistics.unmappedMMIOAccesses &+= 1 }

    if case .vectorMove(let move) = decoded.instruction {
      return VectorMemoryAccess.perform(
        move, length: decoded.length, layout: layout, vcpu: vcpu, vm: vm)
    }
    if case .storeString = decoded.instruction {
      return storeString(decoded, layout: layout, entry: entry, vcpu: vcpu, vm: vm)
    }
    // SMSW stores CR0's low word as the guest reads it (the read shadow on VMX); read only
    // then, to keep VMCS reads off the common MMIO path.
    var controlRegister0: UInt64 = 0
    if case .store(_, .machineStatusWord) = decoded.instruction {
      controlRegister0 = guest.readControlRegister(0)
    }
    if let entry, layout.second == nil, layout.first.address >= entry.base,
      layout.first.address &+ UInt64(layout.first.count) <= entry.base &+ entry.size
    {
      // The common case: the whole access lies in the one device.
      let offset = layout.first.address - entry.base
      var effect = DeviceEffect.none
      MemoryAccessEmulator.execute(
        decoded, registers: &vcpu.registers, controlRegister0: controlRegister0,
        read: { size in entry.device.read(offset: offset, size: size) },
        write: { size, value in
          effect = entry.device.write(offset: offset, size: size, value: value)
        })
      if let reason = effect.stopReason { return .stop(reason) }
      return .resume
    }
    var access = GuestPhysicalAccess(
      first: layout.first, second: layout.second, vcpu: vcpu, vm: vm)
    MemoryAccessEmulator.execute(
      decoded, registers: &vcpu.registers, controlRegister0: controlRegister0,
      read: { _ in access.read() },
      write: { _, value in access.write(value) })

    if let reason = access.stopReason ?? access.effect.stopReason { return .stop(reason) }
    return .resume
  }

  /// STOS in bounded chunks: as many repetitions as fit in the device (or the unmapped
  /// stretch) and in the current linear page, and at most
  /// `MemoryAccessEmulator.maximumIterationsPerExit`; the next element beyond is a fresh
  /// access the processor performs or faults on by itself.
  static func storeString(
    _ decoded: DecodedMemoryAccess, layout: AccessLayout, entry: MMIODeviceTable.Entry?,
    vcpu: VirtualCPU, vm: VirtualMachine
  ) -> ExitOutcome {
    let size = UInt64(decoded.accessSize)
    let down = vcpu.registers.rflags & (1 << 10) != 0
    let start = layout.first.address
    guard layout.second == nil,
      let fits = elementsInside(entry, from: start, size: size, down: down)
    else {
      // The element itself straddles a device end or a page: split it, one repetition.
      var access = GuestPhysicalAccess(
        first: layout.first, second: layout.second, vcpu: vcpu, vm: vm)
      MemoryAccessEmulator.execute(
        decoded, registers: &vcpu.registers, iterations: 1, read: { _ in 0 },
        write: { _, value in access.write(value) })

      if let reason = access.stopReason ?? access.effect.stopReason { return .stop(reason) }
      return .resume
    }
    // Within the linear page too: the next page may map anywhere.
    let pageOffset = layout.linear & 0xFFF
    let inPage = down ? pageOffset / size + 1 : (0x1000 - pageOffset) / size
    let limit = min(fits, inPage, MemoryAccessEmulator.maximumIterationsPerExit)
    guard let entry else {
      // Nothing there, under unmapped=ignore: the writes are dropped.
      MemoryAccessEmulator.execute(
        decoded, registers: &vcpu.registers, iterations: limit, read: { _ in 0 },
        write: { _, _ in })
      return .resume
    }
    var effect = DeviceEffect.none
    var offset = start - entry.base
    let step = down ? 0 &- size : size
    MemoryAccessEmulator.execute(
      decoded, registers: &vcpu.registers, iterations: limit,
      read: { _ in 0 },
      write: { width, value in
        let result = entry.device.write(offset: offset, size: width, value: value)
        if effect == .none { effect = result }
        offset &+= step
      })
    if let reason = effect.stopReason { return .stop(reason) }
    return .resume
  }

  /// How many `size`-byte elements from `start` on (downward with DF) lie wholly inside
  /// the device, or inside the unmapped page when there is none; nil when not even the
  /// first one does.
  static func elementsInside(
    _ entry: MMIODeviceTable.Entry?, from start: UInt64, size: UInt64, down: Bool
  ) -> UInt64? {
    let base = entry?.base ?? start & ~0xFFF
    let end = entry.map { $0.base &+ $0.size } ?? (start & ~0xFFF) + 0x1000
    guard start >= base, start &+ size <= end else { return nil }
    let count = down ? (start - base) / size + 1 : (end - start) / size
    return count == 0 ? nil : count
  }
}

/// Where an emulated access lies: its guest-linear address and the guest-physical bytes it
/// covers, one part per linear page.
struct AccessLayout {
  var linear: UInt64
  var first: (address: UInt64, count: UInt8)
  var second: (address: UInt64, count: UInt8)?
  /// The rights the guest's tables grant the first and second linear page. nil when VMX
  /// reported the linear address of an access within one page and no walk was made: the
  /// processor completed that translation, access rights included, before the EPT
  /// violation (SDM 3A §4.6, SDM 3C §28.2.1), so there is nothing left to check.
  var firstRights: GuestPageRights? = nil
  var secondRights: GuestPageRights? = nil
  /// The access crosses into a linear page the guest's tables do not map.
  var secondNotPresent = false

  /// The decoded operand's linear address, translated through the guest's page tables;
  /// nil when that is not where the processor faulted (SDM 3C §28.2.1: VMX reports the
  /// linear address; SVM only the guest-physical one, APM §15.25.6), or when the guest's
  /// tables do not map it.
  static func locate(
    _ decoded: DecodedMemoryAccess, fault: NestedPageFault, registers: GuestRegisters,
    mode: GuestMode, memory: GuestMemoryMap
  ) -> AccessLayout? {
    guard let operand = decoded.operand(registers: registers) else { return nil }
    let nextRIP = registers.rip &+ UInt64(decoded.length)
    let linear = operand.linearAddress(registers: registers, nextRIP: nextRIP, mode: mode)
    let size = UInt64(decoded.accessSize)
    let inFirstPage = min(size, 0x1000 - (linear & 0xFFF))
    if let reported = fault.guestLinear {
      // VMX reported the linear address: it must lie in the operand; within one page the
      // physical address follows from the fault's without a walk.
      guard reported &- linear < size else { return nil }
      if inFirstPage == size {
        let physical = fault.guestPhysical &- (reported &- linear)
        return AccessLayout(linear: linear, first: (physical, UInt8(size)), second: nil)
      }
    }
    guard
      let translation = InstructionFetcher.translateWithRights(linear, mode: mode, memory: memory)
    else {
      return nil
    }
    let physical = translation.physical
    var layout = AccessLayout(
      linear: linear, first: (physical, UInt8(inFirstPage)), second: nil,
      firstRights: translation.rights)
    var faultIsHere = covers(fault.guestPhysical, physical, inFirstPage)
    if inFirstPage < size {
      let nextLinear = linear &+ inFirstPage
      guard
        let nextTranslation = InstructionFetcher.translateWithRights(
          nextLinear, mode: mode, memory: memory)
      else {
        // The operand runs onto a page the guest's tables do not map: where the fault was
        // in the first part, that is the guest's #PF on the second (SDM 3A §4.7), not a
        // stale TLB to re-execute (which would repeat until the storm detector stopped it).
        guard covers(fault.guestPhysical, physical, inFirstPage),
          fault.guestLinear.map({ $0 &- linear < inFirstPage }) ?? true
        else { return nil }
        layout.secondNotPresent = true
        return layout
      }
      let next = nextTranslation.physical
      layout.secondRights = nextTranslation.rights
      layout.second = (next, UInt8(size - inFirstPage))
      faultIsHere = faultIsHere || covers(fault.guestPhysical, next, size - inFirstPage)
    }
    if let reported = fault.guestLinear {
      faultIsHere = faultIsHere && reported &- linear < size
    }
    return faultIsHere ? layout : nil
  }

  @inline(__always)
  private static func covers(_ address: UInt64, _ start: UInt64, _ count: UInt64) -> Bool {
    address &- start < count
  }
}
