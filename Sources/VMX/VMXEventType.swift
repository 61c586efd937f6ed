/// The interruption type in bits 10:8 of the VM-entry interruption-information field
/// (SDM 3C §25.8.3), the VM-exit interruption-information field and the IDT-vectoring
/// information field (§25.9.2, §25.9.3).
public enum VMXEventType: UInt8, Equatable, CaseIterable {
  case externalInterrupt = 0
  case nmi = 2
  case hardwareException = 3
  /// INT n.
  case softwareInterrupt = 4
  /// INT1 (ICEBP).
  case privilegedSoftwareException = 5
  /// INT3 and INTO.
  case softwareException = 6
  /// Pending MTF VM exit (entry only).
  case otherEvent = 7
}
