/// One bit of a VMX control word: the pin-based, processor-based, VM-exit and VM-entry
/// controls (SDM 3C §25.6.1, §25.6.2, §25.7.1, §25.8.1). The raw value is the bit's mask.
public protocol VMXControlBit: CaseIterable, RawRepresentable where RawValue == UInt32 {
  /// The control's name in reports, after the SDM's wording.
  var name: StaticString { get }
}

extension VMXControlBit {
  /// The control word with exactly `controls` set.
  public static func mask(_ controls: [Self]) -> UInt32 {
    var word: UInt32 = 0
    for control in controls { word |= control.rawValue }
    return word
  }

  /// The name of the control at single-bit mask `bit`, or "reserved control" for a bit
  /// this enumeration does not define.
  public static func name(ofBit bit: UInt32) -> StaticString {
    for control in allCases where control.rawValue == bit { return control.name }
    return "reserved control"
  }
}
