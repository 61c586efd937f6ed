/// SSE and MMX moves on emulated MMIO: the guest's vector register lives in its FXSAVE
/// image (the world switch saves it at every exit and loads it at entry, so a change made
/// here is what the guest sees next), and the up to 16 memory bytes are routed part by part
/// through GuestPhysicalAccess, so that an operand crossing from a device into RAM or into
/// another page is split as the processor splits it.
enum VectorMemoryAccess {
  /// Whether the move faults on alignment before touching memory: MOVAPS/MOVAPD/MOVDQA and
  /// the non-temporal stores need a 16-byte aligned operand, else #GP(0) (SDM Vol 2
  /// MOVAPS, "64-Bit Mode Exceptions"). The processor checks this before the access, so it
  /// is seen here only when the bytes fetched are not those that faulted.
  static func misaligned(_ move: VectorMove, linear: UInt64) -> Bool {
    move.requiresAlignment && linear & 15 != 0
  }

  /// Performs the move and advances RIP; stops the VM as a scalar access would when a part
  /// reaches nothing under `unmapped=stop` or the device asks for it.
  static func perform(
    _ move: VectorMove, length: UInt8, layout: AccessLayout, vcpu: VirtualCPU,
    vm: VirtualMachine
  ) -> ExitOutcome {
    let image = vcpu.registerFile + VirtualCPU.floatingPointOffset
    var stopReason: StopReason?
    var effect = DeviceEffect.none
    MemoryAccessEmulator.executeVector(
      move, image: image,
      read: { offset, size in
        let (first, second) = slice(layout, offset: offset, count: size)
        var access = GuestPhysicalAccess(first: first, second: second, vcpu: vcpu, vm: vm)
        let value = access.read()
        if stopReason == nil { stopReason = access.stopReason }
        return value
      },
      write: { offset, size, value in
        let (first, second) = slice(layout, offset: offset, count: size)
        var access = GuestPhysicalAccess(first: first, second: second, vcpu: vcpu, vm: vm)
        access.write(value)
        if stopReason == nil { stopReason = access.stopReason }
        if effect == .none { effect = access.effect }
      })
    if let reason = stopReason ?? effect.stopReason { return .stop(reason) }
    vcpu.registers.rip &+= UInt64(length)
    return .resume
  }

  /// The guest-physical parts of bytes `offset ..< offset + count` of an operand laid out
  /// as `layout` (its first linear page's bytes, then the next page's).
  static func slice(_ layout: AccessLayout, offset: UInt8, count: UInt8) -> (
    first: (address: UInt64, count: UInt8), second: (address: UInt64, count: UInt8)?
  ) {
    let firstCount = layout.first.count
    let next = layout.second ?? (layout.first.address &+ UInt64(firstCount), 0)
    if offset >= firstCount {
      return ((next.address &+ UInt64(offset - firstCount), count), nil)
    }
    let inFirst = min(count, firstCount - offset)
    let first = (layout.first.address &+ UInt64(offset), inFirst)
    if inFirst == count { return (first, nil) }
    return (first, (next.address, count - inFirst))
  }
}
