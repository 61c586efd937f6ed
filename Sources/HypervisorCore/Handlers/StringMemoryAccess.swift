import Memory

/// MOVS, CMPS, LODS and SCAS that touched emulated MMIO. Unlike the one-operand forms,
/// either of two operands may be the device (or both, or one device and one RAM page), and
/// each element of a REP lies at a new address, so every element is translated on its own
/// through the guest's page tables, checked against its rights (SDM 3A §4.6) and routed
/// byte range by byte range (GuestPhysicalAccess). A REP runs in chunks: at most
/// `MemoryAccessEmulator.maximumIterationsPerExit` elements per exit, and the chunk ends
/// early before an element whose operands are both plain RAM, which the processor then
/// performs itself when the guest re-executes the instruction.
enum StringMemoryAccess {
  /// One operand of one element: where its bytes lie (two parts when it crosses a page).
  struct Placement {
    var first: (address: UInt64, count: UInt8)
    var second: (address: UInt64, count: UInt8)?
    /// The rights the guest's tables grant each page (unrestricted with paging off).
    var firstRights: GuestPageRights
    var secondRights: GuestPageRights?
  }

  /// What translating an operand gave: where it lies, or the rights that refuse it (nil
  /// rights: not present), with the linear address of the refused page.
  enum Translation {
    case placed(Placement)
    case refused(rights: GuestPageRights?, linear: UInt64)
  }

  static func handle<Guest: GuestStateAccess>(
    _ decoded: DecodedMemoryAccess, fault: NestedPageFault, unmapped: StopReason,
    stopsHere: Bool, vcpu: VirtualCPU, vm: VirtualMachine, mode: GuestMode, guest: inout Guest
  ) -> ExitOutcome {
    guard case .string(let operation, let size, _, _, let sourceSegment) = decoded.instruction
    else { return .resume }
    let segments = StringSegments(mode, sourceSegment: sourceSegment)
    // The element the processor faulted on is the first one: one of its operands must hold
    // the faulting address, or these bytes are not the instruction that faulted (see
    // NestedPageFaultHandler) and the guest executes it again.
    var probe = vcpu.registers
    var matches = false
    MemoryAccessEmulator.executeString(
      decoded, registers: &probe, segments: segments, iterations: 1,
      begin: { _, source, destination in
        if let source, holdsFault(source, size: size, fault: fault, mode: mode, memory: vm.memory) {
          matches = true
        }
        if let destination,
          holdsFault(destination, size: size, fault: fault, mode: mode, memory: vm.memory)
        {
          matches = true
        }
        return false
      }, read: { _, _, _ in 0 }, write: { _, _, _ in })
    // A REP with rCX = 0 touches nothing and cannot have faulted.
    guard matches else {
      if stopsHere { return .stop(unmapped) }
      vcpu.statistics.decodeMismatches &+= 1
      return .resume
    }
    if !stopsHere && vm.mmio.entry(for: fault.guestPhysical) == nil
      && vcpu.localDevices.entry(for: fault.guestPhysical) == nil
    {
      vcpu.statistics.unmappedMMIOAccesses &+= 1
    }

    var source: GuestPhysicalAccess? = nil
    var destination: GuestPhysicalAccess? = nil
    var stopReason: StopReason? = nil
    var effect = DeviceEffect.none
    MemoryAccessEmulator.executeString(
      decoded, registers: &vcpu.registers, segments: segments,
      begin: { index, sourceLinear, destinationLinear in
        guard stopReason == nil, effect.stopReason == nil else { return false }
        source = nil
        destination = nil
        var plainRAM = true
        // The source is read before the destination is touched (SDM Vol 2 MOVS, CMPS).
        if let sourceLinear {
          guard
            let placement = place(
              sourceLinear, write: false, size: size, vcpu: vcpu, mode: mode, vm: vm,
              guest: &guest)
          else { return false }
          plainRAM = isRAM(placement, vcpu: vcpu, vm: vm)
          source = GuestPhysicalAccess(
            first: placement.first, second: placement.second, vcpu: vcpu, vm: vm)
        }
        if let destinationLinear {
          guard
            let placement = place(
              destinationLinear, write: operation == .movs, size: size, vcpu: vcpu, mode: mode,
              vm: vm, guest: &guest)
          else { return false }
          plainRAM = plainRAM && isRAM(placement, vcpu: vcpu, vm: vm)
          destination = GuestPhysicalAccess(
            first: placement.first, second: placement.second, vcpu: vcpu, vm: vm)
        }
        // The first element is the one that faulted; later ones all in RAM are left to the
        // processor. Under unmapped=stop, nothing is emulated once the protection passed.
        if index > 0 && plainRAM { return false }
        if stopsHere {
          stopReason = unmapped
          return false
        }
        return true
      },
      read: { operand, _, _ in
        let value: UInt64
        if operand == .source {
          value = source?.read() ?? 0
          if let reason = source?.stopReason, stopReason == nil { stopReason = reason }
        } else {
          value = destination?.read() ?? 0
          if let reason = destination?.stopReason, stopReason == nil { stopReason = reason }
        }
        return value
      },
      write: { _, _, value in
        destination?.write(value)
        if let reason = destination?.stopReason, stopReason == nil { stopReason = reason }
        if let result = destination?.effect, effect == .none { effect = result }
      })
    if let reason = stopReason ?? effect.stopReason { return .stop(reason) }
    return .resume
  }

  /// Whether `size` bytes at `linear` cover the fault: its guest-physical address (through the
  /// guest's tables) and, where VMX reported it, its linear address.
  static func holdsFault(
    _ linear: UInt64, size: UInt8, fault: NestedPageFault, mode: GuestMode,
    memory: GuestMemoryMap
  ) -> Bool {
    if let reported = fault.guestLinear, reported &- linear >= UInt64(size) { return false }
    guard case .placed(let placement) = translate(linear, size: size, mode: mode, memory: memory)
    else { return false }
    if fault.guestPhysical &- placement.first.address < UInt64(placement.first.count) {
      return true
    }
    guard let second = placement.second else { return false }
    return fault.guestPhysical &- second.address < UInt64(second.count)
  }

  /// The guest-physical bytes of `size` bytes at `linear`: one part, or two when they cross
  /// into the next linear page (which may map anywhere).
  static func translate(_ linear: UInt64, size: UInt8, mode: GuestMode, memory: GuestMemoryMap)
    -> Translation
  {
    let inFirstPage = min(UInt64(size), 0x1000 - (linear & 0xFFF))
    guard let first = InstructionFetcher.translateWithRights(linear, mode: mode, memory: memory)
    else { return .refused(rights: nil, linear: linear) }
    var placement = Placement(
      first: (first.physical, UInt8(inFirstPage)), second: nil, firstRights: first.rights)
    if inFirstPage < UInt64(size) {
      let nextLinear = linear &+ inFirstPage
      guard
        let next = InstructionFetcher.translateWithRights(nextLinear, mode: mode, memory: memory)
      else { return .refused(rights: nil, linear: nextLinear) }
      placement.second = (next.physical, UInt8(UInt64(size) - inFirstPage))
      placement.secondRights = next.rights
    }
    return .placed(placement)
  }

  /// Translates one operand and checks the guest's rights on each page it touches; a
  /// refusal leaves the guest's #PF pending (LinearAccessCheck: CR2 the refused page's
  /// address, or the operand's) and answers nil. Paging off: nothing to refuse.
  static func place<Guest: GuestStateAccess>(
    _ linear: UInt64, write: Bool, size: UInt8, vcpu: VirtualCPU, mode: GuestMode,
    vm: VirtualMachine, guest: inout Guest
  ) -> Placement? {
    switch translate(linear, size: size, mode: mode, memory: vm.memory) {
    case .refused(let rights, let page):
      _ = LinearAccessCheck.raise(
        rights: rights, linear: page, write: write, vcpu: vcpu, mode: mode, guest: &guest)
      return nil
    case .placed(let placement):
      guard mode.pagingEnabled else { return placement }
      if LinearAccessCheck.raise(
        rights: placement.firstRights, linear: linear, write: write, vcpu: vcpu, mode: mode,
        guest: &guest)
      {
        return nil
      }
      if let rights = placement.secondRights,
        LinearAccessCheck.raise(
          rights: rights, linear: (linear | 0xFFF) &+ 1, write: write, vcpu: vcpu, mode: mode,
          guest: &guest)
      {
        return nil
      }
      return placement
    }
  }

  /// Whether every byte of the operand is guest RAM with no device over it.
  static func isRAM(_ placement: Placement, vcpu: VirtualCPU, vm: VirtualMachine) -> Bool {
    if !isRAM(placement.first, vcpu: vcpu, vm: vm) { return false }
    guard let second = placement.second else { return true }
    return isRAM(second, vcpu: vcpu, vm: vm)
  }

  private static func isRAM(
    _ part: (address: UInt64, count: UInt8), vcpu: VirtualCPU, vm: VirtualMachine
  ) -> Bool {
    let last = part.address &+ UInt64(part.count) &- 1
    if vcpu.localDevices.entry(for: part.address) != nil || vm.mmio.entry(for: part.address) != nil
      || vcpu.localDevices.entry(for: last) != nil || vm.mmio.entry(for: last) != nil
    {
      return false
    }
    return vm.memory.pointer(to: part.address, length: UInt64(part.count)) != nil
  }
}
