/// The string instructions with a memory source, besides STOS (SDM Vol 2 MOVS, CMPS, LODS,
/// SCAS). Each repetition handles one element of the operand size and moves the index
/// registers it uses by that size, down when RFLAGS.DF is set (SDM Vol 1 §3.4.3.2).
public enum StringOperation: Equatable {
  /// ES:[rDI] <- [rSI]; moves both indexes.
  case movs
  /// Flags of [rSI] - ES:[rDI], as CMP sets them; moves both indexes.
  case cmps
  /// The accumulator <- [rSI]; moves rSI.
  case lods
  /// Flags of the accumulator - ES:[rDI], as CMP sets them; moves rDI.
  case scas

  /// Whether the instruction reads the source operand, (seg):(E/R)SI.
  public var readsSource: Bool { self != .scas }
  /// Whether it touches the destination operand, ES:(E/R)DI.
  public var usesDestination: Bool { self != .lods }
  /// CMPS and SCAS compare, and end a REPE/REPNE on ZF (SDM Vol 2 REP, Table 4-13).
  public var compares: Bool { self == .cmps || self == .scas }
}

/// The repeat prefix of a string instruction (SDM Vol 2 REP/REPE/REPZ/REPNE/REPNZ).
public enum RepeatPrefix: Equatable {
  /// Executed once, rCX untouched.
  case none
  /// F3: REP, and for CMPS/SCAS REPE (also ends when ZF = 0).
  case repeatWhileEqual
  /// F2: REPNE for CMPS/SCAS (also ends when ZF = 1); on MOVS and LODS processors repeat it
  /// as REP.
  case repeatWhileNotEqual
}
