import HypervisorCore
import XCTest

/// CPUIDPolicy and MSRPolicy checked against each other (the table in docs/guest-abi.md):
/// every feature CPUID offers has its MSRs backed, every MSR rule backs an offered feature
/// or an MSR every processor of the vendor has, and CPUID offers no bit nobody decided on.
final class GuestABIConsistencyTests: XCTestCase {
  enum Register { case eax, ebx, ecx, edx }

  struct Feature {
    let leaf: UInt32
    let register: Register
    let bit: UInt32
    let name: String
    /// The MSRs the feature implies (SDM Vol 4 Table 2-2, APM Vol 2 Appendix A).
    var msrs: [ClosedRange<UInt32>] = []
  }

  private static func plain(_ leaf: UInt32, _ register: Register, _ bits: [UInt32], _ name: String)
    -> [Feature]
  {
    bits.map { Feature(leaf: leaf, register: register, bit: $0, name: "\(name) bit \($0)") }
  }

  private static func one(_ msr: UInt32) -> ClosedRange<UInt32> { msr...msr }

  static let efer = one(0xC000_0080)
  static let tscAux = one(0xC000_0103)

  /// Every feature bit CPUIDPolicy may offer, with the MSRs it implies. A bit offered but
  /// missing here fails testEveryOfferedBitIsInTheTable: decide first whether it is backed.
  static let offered: [Feature] =
    [
      Feature(leaf: 1, register: .edx, bit: 4, name: "TSC", msrs: [one(0x10)]),
      Feature(leaf: 1, register: .edx, bit: 9, name: "APIC", msrs: [one(0x1B)]),
      Feature(leaf: 1, register: .edx, bit: 11, name: "SEP", msrs: [0x174...0x176]),
      Feature(leaf: 1, register: .edx, bit: 12, name: "MTRR", msrs: [one(0xFE), one(0x2FF)]),
      Feature(leaf: 1, register: .edx, bit: 14, name: "MCA", msrs: [one(0x179), one(0x17A)]),
      Feature(leaf: 1, register: .edx, bit: 16, name: "PAT", msrs: [one(0x277)]),
      Feature(leaf: 1, register: .ecx, bit: 24, name: "TSC-deadline", msrs: [one(0x6E0)]),
      Feature(leaf: 1, register: .ecx, bit: 21, name: "x2APIC", msrs: [0x800...0x8FF]),
      Feature(leaf: 0x8000_0001, register: .edx, bit: 9, name: "APIC (AMD)", msrs: [one(0x1B)]),
      Feature(
        leaf: 0x8000_0001, register: .edx, bit: 11, name: "SYSCALL",
        msrs: [efer, 0xC000_0081...0xC000_0084]),
      Feature(leaf: 0x8000_0001, register: .edx, bit: 20, name: "NX", msrs: [efer]),
      Feature(leaf: 0x8000_0001, register: .edx, bit: 25, name: "FFXSR", msrs: [efer]),
      Feature(
        leaf: 0x8000_0001, register: .edx, bit: 29, name: "LM",
        msrs: [efer, 0xC000_0100...0xC000_0102]),
      Feature(leaf: 0x8000_0001, register: .ecx, bit: 17, name: "TCE", msrs: [efer]),
      Feature(leaf: 0x8000_0001, register: .edx, bit: 27, name: "RDTSCP", msrs: [tscAux]),
      Feature(leaf: 7, register: .ecx, bit: 22, name: "RDPID", msrs: [tscAux]),
      Feature(leaf: 7, register: .ecx, bit: 31, name: "PKS", msrs: [one(0x6E1)]),
      Feature(
        leaf: 0x4000_0101, register: .eax, bit: 6, name: "KVM PV_EOI", msrs: [one(0x4B56_4D04)]),
    ]
    // Instructions and paging features with no MSR of their own.
    + plain(
      1, .edx, [0, 1, 2, 3, 5, 6, 7, 8, 13, 15, 17, 19, 23, 24, 25, 26, 27, 28], "CPUID.1:EDX")
    + plain(1, .ecx, [0, 1, 9, 13, 17, 19, 20, 22, 23, 25, 30, 31], "CPUID.1:ECX")
    + plain(6, .eax, [2], "ARAT")
    + plain(7, .ebx, [0, 3, 4, 6, 7, 8, 9, 10, 11, 13, 18, 19, 20, 23, 24, 29], "CPUID.7:EBX")
    + plain(7, .ecx, [0, 2, 3, 8, 16, 25, 27, 28], "CPUID.7:ECX")  // 3: PKU (PKRU, no MSR)
    + plain(7, .edx, [4, 10, 11, 14], "CPUID.7:EDX")
    + plain(0x8000_0001, .ecx, [0, 1, 4, 5, 6, 7, 8, 22], "CPUID.80000001:ECX")
    + plain(
      0x8000_0001, .edx,
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 16, 17, 22, 23, 24, 26, 30, 31],
      "CPUID.80000001:EDX")
    + plain(0x8000_0007, .edx, [8], "invariant TSC")
    + plain(0x8000_0008, .ebx, [0, 2, 9, 20, 26, 29], "CPUID.80000008:EBX")

  /// MSRs that exist without a CPUID bit, on every processor of a vendor.
  static func baseline(_ vendor: CPUFeatures.Vendor) -> [ClosedRange<UInt32>] {
    let common = [one(0x8B), one(0x1D9), one(0x1A0)]  // microcode revision, DEBUGCTL, MISC_ENABLE
    switch vendor {
    case .intel: return common + [one(0x3A)]  // FEATURE_CONTROL
    case .amd:
      // PERF_CTL/CTR 0-3, SYSCFG, NB_CFG, HWCR, VM_CR
      return common + [
        0xC001_0000...0xC001_0007, one(0xC001_0010), one(0xC001_001F), one(0xC001_0015),
        one(0xC001_0114),
      ]
    case .other: return common
    }
  }

  /// MSRs of hidden features: they must stay #GP.
  static let unbacked: [(ClosedRange<UInt32>, String)] = [
    (one(0x3B), "IA32_TSC_ADJUST (CPUID.7:EBX[1] hidden)"),
    (one(0x48), "IA32_SPEC_CTRL"), (one(0x49), "IA32_PRED_CMD"), (one(0x10A), "ARCH_CAPABILITIES"),
    (one(0x10B), "IA32_FLUSH_CMD"),
    (one(0x345), "IA32_PERF_CAPABILITIES (PDCM hidden)"),
    (one(0x600), "IA32_DS_AREA (DS hidden)"),
    (0xE7...0xE8, "MPERF/APERF"),
    (0xC1...0xC8, "IA32_PMCx (no leaf 0xA)"), (0x186...0x18D, "IA32_PERFEVTSELx"),
    (0x309...0x30B, "fixed counters"), (0x38D...0x390, "global perf control"),
    (0xC001_0200...0xC001_020B, "AMD core-extension counters (PerfCtrExtCore hidden)"),
    (0xC001_0240...0xC001_0247, "AMD northbridge counters"),
    (0x198...0x19C, "EST, thermal (EST, TM, ACPI hidden)"),
    (one(0x1B0), "ENERGY_PERF_BIAS"), (0x770...0x777, "HWP"),
    (one(0x17B), "IA32_MCG_CTL (MCG_CAP.CTL_P = 0)"),
    (0x400...0x47F, "MC banks (MCG_CAP.Count = 0)"),
    (0x200...0x20F, "variable MTRRs (VCNT = 0)"), (one(0x250), "fixed MTRRs (FIX = 0)"),
    (one(0xC001_0117), "VM_HSAVE_PA (SVM hidden)"), (0xC001_0140...0xC001_0141, "OSVW"),
    (0x480...0x491, "VMX capabilities (VMX hidden)"),
    (one(0xD90), "BNDCFGS"), (0x6A0...0x6A7, "CET"), (one(0xE1), "UMWAIT_CONTROL"),
    (0x560...0x572, "Intel PT"), (one(0xC80), "DEBUG_INTERFACE"), (one(0xC8F), "PQR_ASSOC"),
    (one(0x1F8), "DCA"), (one(0xCF), "CORE_CAPABILITIES"), (one(0xC001_0131), "SEV_STATUS"),
  ]

  private let everything = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~0, edx: ~0)

  private func offeredLeaf(_ leaf: UInt32, apic: Bool = true) -> CPUIDLeaf {
    CPUIDPolicy.apply(leaf: leaf, subleaf: 0, host: everything, vcpuIndex: 0, hasLocalAPIC: apic)
  }

  private func value(_ leaf: CPUIDLeaf, _ register: Register) -> UInt32 {
    switch register {
    case .eax: return leaf.eax
    case .ebx: return leaf.ebx
    case .ecx: return leaf.ecx
    case .edx: return leaf.edx
    }
  }

  private func isOffered(_ feature: Feature, apic: Bool = true) -> Bool {
    value(offeredLeaf(feature.leaf, apic: apic), feature.register) & (1 << feature.bit) != 0
  }

  /// The feature registers the policy edits. (Leaf 1 EAX/EBX and leaf 0x8000_0008 EAX, ECX,
  /// EDX hold signatures, IDs and sizes, not features.)
  private let featureRegisters: [(UInt32, [Register])] = [
    (1, [.ecx, .edx]), (5, [.eax, .ebx, .ecx, .edx]), (6, [.eax, .ebx, .ecx, .edx]),
    (7, [.eax, .ebx, .ecx, .edx]), (0xA, [.eax, .ebx, .ecx, .edx]),
    (0xD, [.eax, .ebx, .ecx, .edx]),
    (0x8000_0001, [.ecx, .edx]), (0x8000_0007, [.eax, .ebx, .ecx, .edx]), (0x8000_0008, [.ebx]),
    (0x8000_000A, [.eax, .ebx, .ecx, .edx]), (0x8000_001F, [.eax, .ebx, .ecx, .edx]),
    (0x4000_0101, [.eax, .ebx, .ecx, .edx]),
  ]

  func testEveryOfferedBitIsInTheTable() {
    for (leaf, registers) in featureRegisters {
      let answer = offeredLeaf(leaf)
      for register in registers {
        let bits = value(answer, register)
        for bit in 0..<UInt32(32) where bits & (1 << bit) != 0 {
          XCTAssertTrue(
            Self.offered.contains { $0.leaf == leaf && $0.register == register && $0.bit == bit },
            "leaf \(String(leaf, radix: 16)) \(register) bit \(bit) is offered but not in the table"
          )
        }
      }
    }
  }

  func testEveryTableFeatureIsOffered() {
    for feature in Self.offered {
      XCTAssertTrue(isOffered(feature), "\(feature.name) is in the table but hidden")
    }
  }

  /// The VM's policy on a host with every feature: TSC_AUX and PKRS added, as VMLoader adds
  /// them where RDTSCP or RDPID, and PKS, are offered.
  private func fullPolicy(_ vendor: CPUFeatures.Vendor) -> MSRPolicy {
    var policy = MSRPolicy(vendor: vendor)
    if CPUIDPolicy.offersTimeStampCounterAuxiliary(host: { _, _ in self.everything }) {
      policy.offerTimeStampCounterAuxiliary()
    }
    if CPUIDPolicy.offersSupervisorProtectionKeys(host: { _, _ in self.everything }) {
      policy.offerSupervisorProtectionKeyRights()
    }
    return policy
  }

  func testTSCAuxExistsOnlyWhereRDTSCPOrRDPIDIsOffered() {
    XCTAssertNil(MSRPolicy(vendor: .amd).rule(for: 0xC000_0103))
    XCTAssertNil(MSRPolicy(vendor: .intel).rule(for: 0x6E1), "PKRS only with PKS")
    XCTAssertEqual(fullPolicy(.intel).rule(for: 0x6E1), .supervisorProtectionKeyRights)
    XCTAssertEqual(fullPolicy(.amd).rule(for: 0xC000_0103), .timeStampCounterAuxiliary)
    // A host with neither (leaf 7 ECX and 0x8000_0001 EDX clear): no TSC_AUX.
    let without = CPUIDPolicy.offersTimeStampCounterAuxiliary(host: { leaf, _ in
      switch leaf {
      case 0: return CPUIDLeaf(eax: 7)
      case 0x8000_0000: return CPUIDLeaf(eax: 0x8000_0001)
      default:
        return CPUIDLeaf(
          eax: ~0, ebx: ~0, ecx: leaf == 7 ? ~(1 << 22) : ~0,
          edx: leaf == 0x8000_0001 ? ~(1 << 27) : ~0)
      }
    })
    XCTAssertFalse(without)
    let rdpidOnly = CPUIDPolicy.offersTimeStampCounterAuxiliary(host: { leaf, _ in
      switch leaf {
      case 0: return CPUIDLeaf(eax: 7)
      case 0x8000_0000: return CPUIDLeaf(eax: 0x8000_0001)
      case 0x8000_0001: return CPUIDLeaf()
      default: return CPUIDLeaf(ecx: 1 << 22)
      }
    })
    XCTAssertTrue(rdpidOnly)
  }

  func testEveryOfferedFeatureHasItsMSRsBacked() {
    for vendor in [CPUFeatures.Vendor.intel, .amd] {
      let policy = fullPolicy(vendor)
      for feature in Self.offered {
        for range in feature.msrs {
          for index in range {
            XCTAssertNotNil(
              policy.rule(for: index),
              "\(vendor): \(feature.name) is offered but MSR \(String(index, radix: 16)) #GPs")
          }
        }
      }
    }
  }

  func testEveryMSRRuleBacksAnOfferedFeatureOrTheVendorsBaseline() {
    for vendor in [CPUFeatures.Vendor.intel, .amd, .other] {
      let justified = Self.offered.flatMap(\.msrs) + Self.baseline(vendor)
      for entry in fullPolicy(vendor).rules {
        for index in entry.indices {
          XCTAssertTrue(
            justified.contains { $0.contains(index) },
            "\(vendor): MSR \(String(index, radix: 16)) has a rule but no offered feature")
        }
      }
    }
  }

  func testHiddenFeaturesMSRsRaiseGeneralProtection() {
    for vendor in [CPUFeatures.Vendor.intel, .amd, .other] {
      let policy = MSRPolicy(vendor: vendor)
      for (range, name) in Self.unbacked {
        for index in range {
          XCTAssertNil(
            policy.rule(for: index), "\(vendor): \(name), MSR \(String(index, radix: 16))")
        }
      }
    }
  }

  func testLocalAPICFeaturesFollowTheModel() {
    // APIC, x2APIC, TSC-deadline, ARAT and KVM's PV EOI are offered only where the local APIC is modelled; the
    // MSR handler refuses APIC_BASE and TSC_DEADLINE without one (MSRHandlerTests).
    for feature in Self.offered
    where ["APIC", "APIC (AMD)", "TSC-deadline", "x2APIC", "ARAT bit 2", "KVM PV_EOI"].contains(
      feature.name)
    {
      XCTAssertFalse(isOffered(feature, apic: false), "\(feature.name) without a local APIC")
    }
  }
}
