/// Which operand of a string instruction an element access is for.
public enum StringOperand: Equatable {
  /// (seg):(E/R)SI, DS unless overridden.
  case source
  /// ES:(E/R)DI.
  case destination
}

/// The segment bases a string instruction's linear addresses start from, and whether linear
/// addresses are 64 bits wide (64-bit mode) or 32 (SDM 3A §3.4).
public struct StringSegments: Equatable {
  public var sourceBase: UInt64
  public var destinationBase: UInt64
  public var linear64: Bool

  public init(sourceBase: UInt64, destinationBase: UInt64, linear64: Bool) {
    self.sourceBase = sourceBase
    self.destinationBase = destinationBase
    self.linear64 = linear64
  }

  /// Flat 64-bit segments, what a caller with no segmentation to model passes.
  public static let flat = StringSegments(sourceBase: 0, destinationBase: 0, linear64: true)

  /// The guest's segments for `sourceSegment` and ES.
  public init(_ mode: GuestMode, sourceSegment: SegmentRegister) {
    self.init(
      sourceBase: mode.base(of: sourceSegment), destinationBase: mode.base(of: .es),
      linear64: mode.width == .long64)
  }
}

extension MemoryAccessEmulator {
  /// MOVS, CMPS, LODS and SCAS, element by element (SDM Vol 2, each instruction's page, and
  /// REP/REPE/REPNE's operation):
  ///
  ///     WHILE rCX != 0: execute once; rCX -= 1; CMPS/SCAS: end when ZF says so (REPE: ZF = 0,
  ///     REPNE: ZF = 1).
  ///
  /// Before each element, `begin(k, sourceLinear, destinationLinear)` is asked whether it may
  /// be done now (nil for an operand the instruction does not use). A false ends the chunk
  /// with that element not done: the guest's #PF on it is pending, or its operands are plain
  /// RAM the processor handles itself. At most `limit` elements are done per call; a REP
  /// left unfinished keeps RIP on the instruction with rSI, rDI and rCX showing the progress,
  /// as an interrupt leaves it (SDM Vol 2 REP), so the guest executes it again. A REP with
  /// rCX = 0 does nothing but advance RIP. Returns the number of elements done.
  ///
  /// `read(operand, linear, size)` returns an element; `write(linear, size, value)` stores
  /// one at the destination. Values are masked to `size`.
  @discardableResult
  public static func executeString(
    _ access: DecodedMemoryAccess, registers: inout GuestRegisters,
    segments: StringSegments = .flat, iterations limit: UInt64 = maximumIterationsPerExit,
    begin: (UInt64, UInt64?, UInt64?) -> Bool, read: (StringOperand, UInt64, UInt8) -> UInt64,
    write: (UInt64, UInt8, UInt64) -> Void
  ) -> UInt64 {
    guard
      case .string(let operation, let size, let repeatPrefix, let addressSize, _) = access
        .instruction
    else { return 0 }
    let counted = repeatPrefix != .none
    let indexMask = mask(addressSize)
    let linearMask: UInt64 = segments.linear64 ? ~0 : 0xFFFF_FFFF
    let step = stringStep(size: size, rflags: registers.rflags)
    let maximum = max(limit, 1)
    var count = counted ? registers.rcx & indexMask : 1
    var done: UInt64 = 0
    var finished = false
    while true {
      if count == 0 {
        finished = true
        break
      }
      if done == maximum { break }
      let sourceLinear =
        operation.readsSource
        ? (segments.sourceBase &+ registers.rsi & indexMask) & linearMask : nil
      let destinationLinear =
        operation.usesDestination
        ? (segments.destinationBase &+ registers.rdi & indexMask) & linearMask : nil
      guard begin(done, sourceLinear, destinationLinear) else { break }
      switch operation {
      case .movs:
        write(destinationLinear ?? 0, size, read(.source, sourceLinear ?? 0, size) & mask(size))
      case .lods:
        registers.rax = merge(
          read(.source, sourceLinear ?? 0, size), into: registers.rax, size: size)
      case .cmps:
        // SDM Vol 2 CMPS: temp <- SRC1 - SRC2 with SRC1 = (seg):[rSI], SRC2 = ES:[rDI].
        let first = read(.source, sourceLinear ?? 0, size)
        let second = read(.destination, destinationLinear ?? 0, size)
        registers.rflags =
          ArithmeticOperation.cmp.apply(
            destination: first, source: second, size: size, flags: registers.rflags
          ).flags
      case .scas:
        // SDM Vol 2 SCAS: the accumulator minus ES:[rDI].
        let element = read(.destination, destinationLinear ?? 0, size)
        registers.rflags =
          ArithmeticOperation.cmp.apply(
            destination: registers.rax, source: element, size: size, flags: registers.rflags
          ).flags
      }
      if operation.readsSource {
        registers.rsi = advanceIndex(registers.rsi, by: step, count: 1, addressSize: addressSize)
      }
      if operation.usesDestination {
        registers.rdi = advanceIndex(registers.rdi, by: step, count: 1, addressSize: addressSize)
      }
      done += 1
      count -= 1
      if !counted {
        finished = true
        break
      }
      registers.rcx = merge(count, into: registers.rcx, size: addressSize)
      if operation.compares {
        let equal = registers.rflags & (1 << 6) != 0
        if repeatPrefix == .repeatWhileEqual ? !equal : equal {
          finished = true
          break
        }
      }
    }
    if finished { registers.rip &+= UInt64(access.length) }
    return done
  }
}
