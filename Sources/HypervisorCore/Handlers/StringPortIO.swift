import Memory

/// INS and OUTS, with or without REP, in bounded chunks: at most
/// `MemoryAccessEmulator.maximumIterationsPerExit` elements per exit and never past the
/// current page of the memory operand. An unfinished REP leaves (E/R)CX, (E/R)SI or (E/R)DI
/// showing the progress and RIP on the instruction, as an interrupted REP does (SDM Vol 2
/// REP), so the guest executes it again and interrupts are taken in between.
///
/// The memory operand is ES:(E/R)DI for INS and DS:(E/R)SI, or the segment a prefix names,
/// for OUTS (SDM Vol 2 INS/OUTS), read through the guest's paging. A page the guest's tables
/// do not map, or whose rights forbid the access, is the guest's #PF (LinearAccessCheck);
/// otherwise it must be guest RAM: MMIO or unmapped memory stops the VM with
/// `stringIOOperandNotRAM` (docs/hardening.md).
enum StringPortIO {
  /// Kept out of line: the exit path of plain IN/OUT must not carry its code.
  @inline(never)
  static func handle<Guest: GuestStateAccess>(
    _ access: PortAccess, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: inout Guest
  ) -> ExitOutcome {
    let rip = vcpu.registers.rip
    let mode = guest.mode()
    guard let bytes = InstructionFetcher.fetch(rip: rip, mode: mode, memory: vm.memory) else {
      return .stop(.instructionFetchFailed(rip: rip))
    }
    // The instruction must be the INS/OUTS the exit describes (the processor may have run
    // other bytes from a stale TLB): otherwise nothing happens and the guest re-executes.
    guard let instruction = decode(bytes, width: mode.width, access: access),
      exit.instructionLength == nil || exit.instructionLength == instruction.length
    else {
      vcpu.statistics.decodeMismatches &+= 1
      return .resume
    }
    let addressSize = instruction.addressSize
    let count =
      access.isRepeated ? vcpu.registers.rcx & MemoryAccessEmulator.mask(addressSize) : 1
    let isInput = access.direction == .read
    let index = isInput ? vcpu.registers.rdi : vcpu.registers.rsi
    let segment: SegmentRegister = isInput ? .es : instruction.segment
    let size = UInt64(access.size)
    let step = MemoryAccessEmulator.stringStep(size: access.size, rflags: vcpu.registers.rflags)
    let down = step != size

    var done: UInt64 = 0
    var outcome = ExitOutcome.resume
    if count != 0 {
      let offset = MemoryOperand.truncate(index, to: addressSize)
      let linear = linearAddress(mode.base(of: segment) &+ offset, mode: mode)
      // Whole elements left in this page (and before the index register wraps).
      let pageOffset = linear & 0xFFF
      var fits = down ? pageOffset / size + 1 : (0x1000 - pageOffset) / size
      let limitOffset = MemoryAccessEmulator.mask(addressSize)
      fits = min(fits, down ? offset / size + 1 : (limitOffset - offset + 1) / size)
      let wanted = min(count, MemoryAccessEmulator.maximumIterationsPerExit)
      if fits == 0 {
        // One element that straddles a page (or wraps): byte by byte.
        (done, outcome) = transferStraddling(
          access, linear: linear, offset: offset, segmentBase: mode.base(of: segment),
          addressSize: addressSize, vcpu: vcpu, vm: vm, mode: mode, guest: &guest)
      } else {
        let n = min(wanted, fits)
        let first = down ? linear - (n - 1) * size : linear
        // The memory operand is accessed after the exit, so the guest's paging protection is
        // checked here (SDM 3A §4.6): INS writes memory, OUTS reads it. A violation or a
        // not-present page is the guest's #PF on the first element, at its address.
        let translation = InstructionFetcher.translateWithRights(
          first, mode: mode, memory: vm.memory)
        if mode.pagingEnabled,
          LinearAccessCheck.raise(
            rights: translation?.rights, linear: linear, write: isInput, vcpu: vcpu, mode: mode,
            guest: &guest)
        {
          return .resume
        }
        guard let physical = translation?.physical,
          let span = vm.memory.pointer(to: physical, length: n * size)
        else {
          return .stop(.stringIOOperandNotRAM(port: access.port, guestLinear: linear))
        }
        if isInput { vm.memory.noteWrite(physical, length: n * size) }
        (done, outcome) = transfer(
          access, span: span, count: n, down: down, vcpu: vcpu, vm: vm)
      }
      // Not even the first element's memory was RAM: nothing happened.
      if done == 0 { return outcome }
    }
    if isInput {
      vcpu.registers.rdi = MemoryAccessEmulator.advanceIndex(
        vcpu.registers.rdi, by: step, count: done, addressSize: addressSize)
    } else {
      vcpu.registers.rsi = MemoryAccessEmulator.advanceIndex(
        vcpu.registers.rsi, by: step, count: done, addressSize: addressSize)
    }
    if access.isRepeated {
      vcpu.registers.rcx = MemoryAccessEmulator.merge(
        count - done, into: vcpu.registers.rcx, size: addressSize)
    }
    // The instruction completes when the count is exhausted (or it is not repeated).
    if count == done { vcpu.advance(by: instruction.length) }
    return outcome
  }

  /// `count` elements between the host span and the port, in the order the guest's index
  /// register walks them. Returns how many were done (a device may stop the VM midway).
  static func transfer(
    _ access: PortAccess, span: UnsafeMutableRawPointer, count: UInt64, down: Bool,
    vcpu: VirtualCPU, vm: VirtualMachine
  ) -> (UInt64, ExitOutcome) {
    let size = Int(access.size)
    let device = vm.ports.device(for: access.port)
    var element: UInt64 = 0
    while element < count {
      let position = down ? Int(count - 1 - element) * size : Int(element) * size
      if access.direction == .read {
        let value = input(access, device: device, vcpu: vcpu)
        store(value, size: size, at: span + position)
      } else {
        let value = load(size: size, at: span + position)
        if let reason = output(access, value: value, device: device, vcpu: vcpu) {
          return (element + 1, .stop(reason))
        }
      }
      element += 1
    }
    return (count, .resume)
  }

  /// One element whose bytes lie in two pages: each byte translated on its own.
  static func transferStraddling<Guest: GuestStateAccess>(
    _ access: PortAccess, linear: UInt64, offset: UInt64, segmentBase: UInt64, addressSize: UInt8,
    vcpu: VirtualCPU, vm: VirtualMachine, mode: GuestMode, guest: inout Guest
  ) -> (UInt64, ExitOutcome) {
    var pointers: [UnsafeMutableRawPointer] = []
    for byte in 0..<UInt64(access.size) {
      let address = linearAddress(
        segmentBase &+ MemoryOperand.truncate(offset &+ byte, to: addressSize), mode: mode)
      let translation = InstructionFetcher.translateWithRights(
        address, mode: mode, memory: vm.memory)
      // Each page's protection, before any byte moves (SDM 3A §4.6): #PF, nothing done.
      if mode.pagingEnabled,
        LinearAccessCheck.raise(
          rights: translation?.rights, linear: address, write: access.direction == .read,
          vcpu: vcpu, mode: mode, guest: &guest)
      {
        return (0, .resume)
      }
      guard let physical = translation?.physical,
        let pointer = vm.memory.pointer(to: physical, length: 1)
      else { return (0, .stop(.stringIOOperandNotRAM(port: access.port, guestLinear: address))) }
      if access.direction == .read { vm.memory.noteWrite(physical, length: 1) }
      pointers.append(pointer)
    }
    let device = vm.ports.device(for: access.port)
    if access.direction == .read {
      let value = input(access, device: device, vcpu: vcpu)
      for (byte, pointer) in pointers.enumerated() {
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: value >> (byte * 8)), as: UInt8.self)
      }
      return (1, .resume)
    }
    var value: UInt32 = 0
    for (byte, pointer) in pointers.enumerated() {
      value |= UInt32(pointer.load(as: UInt8.self)) << (byte * 8)
    }
    if let reason = output(access, value: value, device: device, vcpu: vcpu) {
      return (1, .stop(reason))
    }
    return (1, .resume)
  }

  static func input(_ access: PortAccess, device: (any PortDevice)?, vcpu: VirtualCPU) -> UInt32 {
    guard let device else {
      vcpu.statistics.unhandledPortReads &+= 1
      return ~0
    }
    return device.read(port: access.port, size: access.size)
  }

  static func output(
    _ access: PortAccess, value: UInt32, device: (any PortDevice)?, vcpu: VirtualCPU
  ) -> StopReason? {
    guard let device else {
      vcpu.statistics.unhandledPortWrites &+= 1
      return nil
    }
    return device.write(port: access.port, size: access.size, value: value).stopReason
  }

  static func store(_ value: UInt32, size: Int, at pointer: UnsafeMutableRawPointer) {
    switch size {
    case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
    case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
    default: pointer.storeBytes(of: value, as: UInt32.self)
    }
  }

  static func load(size: Int, at pointer: UnsafeMutableRawPointer) -> UInt32 {
    switch size {
    case 1: return UInt32(pointer.load(as: UInt8.self))
    case 2: return UInt32(pointer.loadUnaligned(as: UInt16.self))
    default: return pointer.loadUnaligned(as: UInt32.self)
    }
  }

  /// Outside 64-bit mode linear addresses are 32 bits wide (SDM 3A §3.4).
  @inline(__always)
  static func linearAddress(_ value: UInt64, mode: GuestMode) -> UInt64 {
    mode.width == .long64 ? value : value & 0xFFFF_FFFF
  }

  struct Decoded {
    var length: UInt8
    var addressSize: UInt8
    var segment: SegmentRegister
  }

  /// INS (6C, 6D) or OUTS (6E, 6F) after prefixes, agreeing with the exit's direction,
  /// size and REP bit (SDM Vol 2 INS/OUTS; F2 repeats them as F3 does); nil otherwise.
  static func decode(_ bytes: InstructionBytes, width: GuestMode.Width, access: PortAccess)
    -> Decoded?
  {
    var cursor = InstructionCursor(bytes)
    do throws(InstructionFetchError) {
      let prefixes = try InstructionPrefixes.read(from: &cursor, width: width)
      let opcode = try cursor.next()
      guard opcode & 0xFC == 0x6C else { return nil }
      let isInput = opcode & 2 == 0
      // 16 or 32 bits for the full-size forms: REX.W does not make them 64-bit.
      let size: UInt8 = opcode & 1 == 0 ? 1 : (prefixes.operandSize(width: width) == 2 ? 2 : 4)
      let repeated = prefixes.repeatPrefix || prefixes.repeatNotEqualPrefix
      guard isInput == (access.direction == .read), size == access.size,
        repeated == access.isRepeated
      else { return nil }
      return Decoded(
        length: UInt8(cursor.position), addressSize: prefixes.addressSize(width: width),
        segment: prefixes.segmentOverride ?? .ds)
    } catch {
      return nil
    }
  }
}
