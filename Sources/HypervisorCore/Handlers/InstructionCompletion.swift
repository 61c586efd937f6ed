import Memory

/// Moves RIP past the exiting instruction. The length comes from the hardware when it
/// reports one (VMX always; SVM with NRIPS). Otherwise the dispatcher has read the
/// instruction (`check`): through the vCPU's code-page cache, recognizing the unprefixed
/// encodings that cause each exit (CPUID, RDMSR, WRMSR, VMMCALL, HLT...) with a couple of
/// compares, and decoding anything else (prefixes, a page crossing) with the full decoder;
/// it leaves the length in the vCPU. Other exits without a length decode the instruction.
public enum InstructionCompletion {
  @inline(__always)
  public static func complete<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> ExitOutcome {
    if let length = exit.instructionLength {
      vcpu.advance(by: length)
      return .resume
    }
    // An instruction exit: the dispatcher read and checked the bytes at RIP and left their
    // length.
    let checked = vcpu.checkedInstructionLength
    if checked != 0 {
      vcpu.checkedInstructionLength = 0
      vcpu.advance(by: checked)
      return .resume
    }
    return decodeAndComplete(vcpu: vcpu, vm: vm, guest: guest)
  }

  /// What reading the instruction at RIP says about an instruction exit without a
  /// reported length.
  public enum Check: Equatable {
    /// The bytes are an instruction that causes this exit, of this length.
    case length(UInt8)
    /// They are not: the processor executed other bytes (a stale TLB entry after the guest
    /// changed its page tables without INVLPG). Nothing may be emulated.
    case mismatch
    /// The instruction could not be read.
    case unreadable
  }

  /// For an instruction exit without a length (SVM without NRIPS): checks that the bytes
  /// at RIP cause `reason` and returns their length. The common unprefixed encodings are
  /// recognized with a couple of compares through the code-page cache; anything else (a
  /// prefix, a page crossing) takes the full decoder.
  @inline(__always)
  public static func check<Guest: GuestStateAccess>(
    _ reason: ExitingInstruction.Kind, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> Check {
    let key = guest.instructionFetchKey(rip: vcpu.registers.rip)
    let offset = key.linear & 0xFFF
    if offset <= 4096 - 3, let page = cachedPage(key, vcpu: vcpu, vm: vm, guest: guest) {
      let bytes = UnsafeRawPointer(bitPattern: UInt(page + offset))!
      switch ExitingInstruction.quickCheck(
        reason, bytes.load(as: UInt8.self), bytes.load(fromByteOffset: 1, as: UInt8.self),
        bytes.load(fromByteOffset: 2, as: UInt8.self))
      {
      case .length(let length): return .length(length)
      case .mismatch: return .mismatch
      case .undecided: break
      }
    }
    return fullCheck(reason, vcpu: vcpu, vm: vm, guest: guest)
  }

  @inline(never)
  static func fullCheck<Guest: GuestStateAccess>(
    _ reason: ExitingInstruction.Kind, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> Check {
    let mode = guest.mode()
    guard
      let bytes = InstructionFetcher.fetch(rip: vcpu.registers.rip, mode: mode, memory: vm.memory),
      let length = InstructionLength.decode(bytes, width: mode.width)
    else { return .unreadable }
    return ExitingInstruction.matches(reason, bytes, width: mode.width)
      ? .length(length) : .mismatch
  }

  /// The host address of the guest code page holding `key.linear`, through the cache.
  @inline(__always)
  static func cachedPage<Guest: GuestStateAccess>(
    _ key: InstructionFetchKey, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> UInt64? {
    let linearPage = key.linear & ~0xFFF
    if vcpu.codeCache.linearPage == linearPage && vcpu.codeCache.addressSpace == key.addressSpace
      && vcpu.codeCache.pathIsUnchanged()
    {
      return vcpu.codeCache.hostPage
    }
    return fillCache(linearPage, key: key, vcpu: vcpu, vm: vm, guest: guest)
  }

  /// Walks the guest's page tables for the page, recording each entry read.
  static func fillCache<Guest: GuestStateAccess>(
    _ linearPage: UInt64, key: InstructionFetchKey, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: Guest
  ) -> UInt64? {
    vcpu.codeCache.invalidate()
    let mode = guest.mode()
    let paging = InstructionFetcher.pagingMode(of: mode)
    var cache = CodePageCache()
    let physical: UInt64?
    if paging == .none {
      physical = linearPage
    } else {
      let isWide: Bool
      if case .protected32 = paging { isWide = false } else { isWide = true }
      let memory = vm.memory
      physical = GuestPageWalker.translate(linear: linearPage, cr3: mode.cr3, mode: paging) {
        address in
        guard let pointer = memory.pointer(to: address, length: isWide ? 8 : 4) else { return nil }
        let value = isWide ? pointer.load(as: UInt64.self) : UInt64(pointer.load(as: UInt32.self))
        cache.record(host: UInt64(UInt(bitPattern: pointer)), value: value, isWide: isWide)
        return value
      }
    }
    guard let physical, let host = vm.memory.pointer(to: physical & ~0xFFF, length: 4096) else {
      return nil
    }
    cache.linearPage = linearPage
    cache.addressSpace = key.addressSpace
    cache.hostPage = UInt64(UInt(bitPattern: host))
    vcpu.codeCache = cache
    vcpu.codeCacheGeneration &+= 1
    return cache.hostPage
  }

  @inline(never)
  static func decodeAndComplete<Guest: GuestStateAccess>(
    vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> ExitOutcome {
    let rip = vcpu.registers.rip
    let mode = guest.mode()
    guard let bytes = InstructionFetcher.fetch(rip: rip, mode: mode, memory: vm.memory),
      let length = InstructionLength.decode(bytes, width: mode.width)
    else {
      return .stop(.instructionFetchFailed(rip: rip))
    }
    vcpu.advance(by: length)
    return .resume
  }
}
