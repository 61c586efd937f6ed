/// What it takes to enter the S5 (soft off) sleeping state: write SLP_TYPx with SLP_EN to
/// each PM1x control register (ACPI 6.4 §7.4.2 "\_Sx", §4.8.3.2.1 PM1 Control Registers).
public struct ACPIPowerOff: Equatable, Sendable {
  /// SLP_TYPx occupies bits 12:10 of PM1x_CNT (§4.8.3.2.1, Table 4.13).
  static let sleepTypeShift: UInt16 = 10
  static let sleepTypeMask: UInt16 = 0b111 << 10
  /// SLP_EN, bit 13: writing 1 enters the sleeping state in SLP_TYPx.
  static let sleepEnable: UInt16 = 1 << 13

  /// I/O port of PM1a_CNT (FADT PM1a_CNT_BLK, §5.2.9).
  public var pm1aControlBlock: UInt16
  /// I/O port of PM1b_CNT, nil when the platform has no PM1b block.
  public var pm1bControlBlock: UInt16?
  /// The first `\_S5` package element, for PM1a_CNT.
  public var sleepTypeA: UInt8
  /// The second `\_S5` package element, for PM1b_CNT.
  public var sleepTypeB: UInt8

  public init(
    pm1aControlBlock: UInt16, pm1bControlBlock: UInt16?, sleepTypeA: UInt8, sleepTypeB: UInt8
  ) {
    self.pm1aControlBlock = pm1aControlBlock
    self.pm1bControlBlock = pm1bControlBlock
    self.sleepTypeA = sleepTypeA
    self.sleepTypeB = sleepTypeB
  }

  /// Value to write to PM1x_CNT: SLP_TYPx << 10 | SLP_EN (bit 13).
  public func controlValue(forB: Bool) -> UInt16 {
    controlValue(forB: forB, preserving: 0)
  }

  /// The same, keeping the other bits of the register's `current` value (such as SCI_EN),
  /// as §4.8.3.2.1 asks OSPM to when it writes PM1x_CNT.
  public func controlValue(forB: Bool, preserving current: UInt16) -> UInt16 {
    let sleepType = UInt16(forB ? sleepTypeB : sleepTypeA)
    let kept = current & ~(Self.sleepTypeMask | Self.sleepEnable)
    return kept | ((sleepType << Self.sleepTypeShift) & Self.sleepTypeMask) | Self.sleepEnable
  }
}
