/// One VMX control word as the processor will accept it, and what was asked for but
/// could not be given.
public struct ControlResolution {
  /// The value to VMWRITE: requested bits the processor allows, plus every bit it requires.
  public var value: UInt32
  /// Names of the requested controls whose allowed-1 bit is 0, in bit order.
  public var unavailable: [StaticString]

  public init(value: UInt32, unavailable: [StaticString] = []) {
    self.value = value
    self.unavailable = unavailable
  }

  /// Every requested control was granted.
  public var isComplete: Bool { unavailable.isEmpty }

  /// Whether the resolved word has all of `mask` set.
  public func contains(_ mask: UInt32) -> Bool { value & mask == mask }
}
