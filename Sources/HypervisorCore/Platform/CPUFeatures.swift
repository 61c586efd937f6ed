/// What this processor offers for virtualization, decoded from raw CPUID leaves and
/// capability MSRs so the decoding is tested on the host with fixtures.
public struct CPUFeatures: Equatable {
  public enum Vendor: Equatable { case intel, amd, other }

  public var vendor: Vendor
  /// "GenuineIntel", "AuthenticAMD", ...: EBX, EDX, ECX of leaf 0.
  public var vendorName: [UInt8]
  public var hasLongMode: Bool
  public var hasNoExecute: Bool
  /// CPUID.1:ECX[31]: we are ourselves running under a hypervisor.
  public var runsUnderHypervisor: Bool
  public var vmx: VMXFeatures?
  public var svm: SVMFeatures?

  public init(
    leaf0: CPUIDLeaf, leaf1: CPUIDLeaf, extendedLeaf1: CPUIDLeaf,
    svmLeaf: CPUIDLeaf?, vmx: VMXFeatures? = nil
  ) {
    vendorName = []
    for register in [leaf0.ebx, leaf0.edx, leaf0.ecx] {
      for shift in stride(from: 0, to: 32, by: 8) {
        vendorName.append(UInt8(truncatingIfNeeded: register >> UInt32(shift)))
      }
    }
    switch vendorName {
    case Array("GenuineIntel".utf8): vendor = .intel
    case Array("AuthenticAMD".utf8), Array("HygonGenuine".utf8): vendor = .amd
    default: vendor = .other
    }
    hasLongMode = extendedLeaf1.edx & (1 << 29) != 0
    hasNoExecute = extendedLeaf1.edx & (1 << 20) != 0
    runsUnderHypervisor = leaf1.ecx & (1 << 31) != 0
    // CPUID.1:ECX[5] VMX (SDM 3C §24.6); CPUID.80000001h:ECX[2] SVM (APM Vol 2 §15.4).
    self.vmx = leaf1.ecx & (1 << 5) != 0 ? vmx : nil
    if extendedLeaf1.ecx & (1 << 2) != 0, let svmLeaf {
      svm = SVMFeatures(leaf: svmLeaf)
    } else {
      svm = nil
    }
  }

  /// CPUID.1:ECX[5]: the caller reads the VMX capability MSRs only when this is set
  /// (reading them otherwise raises #GP).
  public static func advertisesVMX(leaf1: CPUIDLeaf) -> Bool { leaf1.ecx & (1 << 5) != 0 }
}

/// SVM features from CPUID Fn8000_000A (APM Vol 3, Appendix E.4.9).
public struct SVMFeatures: Equatable {
  public var revision: UInt8
  public var asidCount: UInt32
  public var nestedPaging: Bool
  public var nextRIPSave: Bool
  public var vmcbClean: Bool
  public var flushByASID: Bool
  public var decodeAssists: Bool

  public init(leaf: CPUIDLeaf) {
    revision = UInt8(truncatingIfNeeded: leaf.eax)
    asidCount = leaf.ebx
    nestedPaging = leaf.edx & (1 << 0) != 0
    nextRIPSave = leaf.edx & (1 << 3) != 0
    vmcbClean = leaf.edx & (1 << 5) != 0
    flushByASID = leaf.edx & (1 << 6) != 0
    decodeAssists = leaf.edx & (1 << 7) != 0
  }
}

/// VMX features from the capability MSRs (SDM 3C Appendix A).
public struct VMXFeatures: Equatable {
  /// IA32_FEATURE_CONTROL (0x3A): bit 0 lock, bit 2 VMXON outside SMX.
  public var featureControl: UInt64
  public var revision: UInt32
  public var secondaryControls: Bool
  public var extendedPageTables: Bool
  public var vpid: Bool
  public var unrestrictedGuest: Bool

  /// - Parameters:
  ///   - basic: IA32_VMX_BASIC (0x480).
  ///   - processorBased: IA32_VMX_PROCBASED_CTLS (0x482); allowed-1 bit 31 activates the
  ///     secondary controls.
  ///   - secondary: IA32_VMX_PROCBASED_CTLS2 (0x48B), read only when the secondary controls
  ///     exist; allowed-1 bits 1 (EPT), 5 (VPID), 7 (unrestricted guest).
  public init(featureControl: UInt64, basic: UInt64, processorBased: UInt64, secondary: UInt64) {
    self.featureControl = featureControl
    revision = UInt32(truncatingIfNeeded: basic) & 0x7FFF_FFFF
    secondaryControls = processorBased & (1 << 63) != 0
    let allowed = secondaryControls ? secondary >> 32 : 0
    extendedPageTables = allowed & (1 << 1) != 0
    vpid = allowed & (1 << 5) != 0
    unrestrictedGuest = allowed & (1 << 7) != 0
  }

  /// Locked with VMXON outside SMX disallowed: the firmware switched VMX off.
  public var lockedOff: Bool { featureControl & 1 != 0 && featureControl & 4 == 0 }
}
