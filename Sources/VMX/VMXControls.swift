/// Computes VMX control words from the capability MSRs (SDM 3C Appendix A.3–A.5 and
/// "Algorithms for Determining VMX Capabilities", §32.5.1; §31.5.1 in editions before
/// the VMX chapters were renumbered).
public enum VMXControls {
  /// `(requested | allowed-0) & allowed-1`, naming each requested bit allowed-1 forbids.
  ///
  /// `capability` is a control MSR: bits 31:0 are the allowed-0 settings (a 1 means the
  /// control must be 1), bits 63:32 the allowed-1 settings (a 0 means it must be 0).
  /// `names` maps a single-bit mask to the control's name.
  public static func resolve(
    requested: UInt32, capability: UInt64, names: (UInt32) -> StaticString
  ) -> ControlResolution {
    let mustBeOne = UInt32(truncatingIfNeeded: capability)
    let mayBeOne = UInt32(truncatingIfNeeded: capability >> 32)
    var unavailable: [StaticString] = []
    var refused = requested & ~mayBeOne
    while refused != 0 {
      let bit = refused & (~refused &+ 1)
      unavailable.append(names(bit))
      refused &= ~bit
    }
    return ControlResolution(value: (requested | mustBeOne) & mayBeOne, unavailable: unavailable)
  }

  /// Resolves a set of named controls against one control MSR.
  public static func resolve<Control: VMXControlBit>(
    _ requested: [Control], capability: UInt64
  ) -> ControlResolution {
    resolve(requested: Control.mask(requested), capability: capability) {
      Control.name(ofBit: $0)
    }
  }

  /// Against IA32_VMX_(TRUE_)PINBASED_CTLS (Appendix A.3.1).
  public static func pinBased(_ requested: [PinBasedControl], caps: VMXCapabilities)
    -> ControlResolution
  {
    resolve(requested, capability: caps.pinBasedCapability)
  }

  /// Against IA32_VMX_(TRUE_)PROCBASED_CTLS (Appendix A.3.2).
  public static func primaryProcessorBased(
    _ requested: [PrimaryProcessorControl], caps: VMXCapabilities
  ) -> ControlResolution {
    resolve(requested, capability: caps.primaryProcessorCapability)
  }

  /// Against IA32_VMX_PROCBASED_CTLS2 (Appendix A.3.3), which has no TRUE_ variant and
  /// counts as all-zero when "activate secondary controls" cannot be 1.
  public static func secondaryProcessorBased(
    _ requested: [SecondaryProcessorControl], caps: VMXCapabilities
  ) -> ControlResolution {
    resolve(requested, capability: caps.secondaryProcessorCapability)
  }

  /// Against IA32_VMX_(TRUE_)EXIT_CTLS (Appendix A.4).
  public static func vmExit(_ requested: [ExitControl], caps: VMXCapabilities)
    -> ControlResolution
  {
    resolve(requested, capability: caps.exitCapability)
  }

  /// Against IA32_VMX_(TRUE_)ENTRY_CTLS (Appendix A.5).
  public static func vmEntry(_ requested: [EntryControl], caps: VMXCapabilities)
    -> ControlResolution
  {
    resolve(requested, capability: caps.entryCapability)
  }
}
