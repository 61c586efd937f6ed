import CArch
import HypervisorCore

/// Reads CPUID and, where CPUID says they exist, the VMX capability MSRs; the decoding
/// itself is HypervisorCore's CPUFeatures, tested on the host.
enum CPUProbe {
  static func leaf(_ number: UInt32, _ subleaf: UInt32 = 0) -> CPUIDLeaf {
    let r = arch_cpuid(number, subleaf)
    return CPUIDLeaf(eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx)
  }

  static func detect() -> CPUFeatures {
    let leaf0 = leaf(0)
    let leaf1 = leaf(1)
    let maxExtended = leaf(0x8000_0000).eax
    let extended1 = maxExtended >= 0x8000_0001 ? leaf(0x8000_0001) : CPUIDLeaf()
    let svmLeaf = maxExtended >= 0x8000_000A ? leaf(0x8000_000A) : nil
    var vmx: VMXFeatures?
    if CPUFeatures.advertisesVMX(leaf1: leaf1) {
      let processorBased = arch_rdmsr(0x482)
      vmx = VMXFeatures(
        featureControl: arch_rdmsr(0x3A), basic: arch_rdmsr(0x480), processorBased: processorBased,
        secondary: processorBased & (1 << 63) != 0 ? arch_rdmsr(0x48B) : 0)
    }
    return CPUFeatures(
      leaf0: leaf0, leaf1: leaf1, extendedLeaf1: extended1, svmLeaf: svmLeaf, vmx: vmx)
  }

  static func report(_ features: CPUFeatures) {
    guard Log.begin(.info) else { return }
    Console.write("cpu: vendor ")
    Console.write(bytes: features.vendorName)
    if features.runsUnderHypervisor { Console.write(", running under a hypervisor") }
    Log.end()
    if let vmx = features.vmx {
      Log.begin(.info)
      Console.write("cpu: VMX revision ")
      Console.write(hex: UInt64(vmx.revision))
      yesNo(" EPT", vmx.extendedPageTables)
      yesNo(" VPID", vmx.vpid)
      yesNo(" unrestricted-guest", vmx.unrestrictedGuest)
      if vmx.lockedOff { Console.write(" (locked off by firmware)") }
      Log.end()
    } else {
      Log.info("cpu: VMX not available")
    }
    if let svm = features.svm {
      Log.begin(.info)
      Console.write("cpu: SVM revision ")
      Console.write(decimal: UInt64(svm.revision))
      yesNo(" NPT", svm.nestedPaging)
      yesNo(" NRIPS", svm.nextRIPSave)
      yesNo(" decode-assists", svm.decodeAssists)
      yesNo(" vmcb-clean", svm.vmcbClean)
      yesNo(" flush-by-asid", svm.flushByASID)
      Console.write(" ASIDs ")
      Console.write(decimal: UInt64(svm.asidCount))
      Log.end()
    } else {
      Log.info("cpu: SVM not available")
    }
  }

  private static func yesNo(_ name: StaticString, _ present: Bool) {
    Console.write(name)
    Console.write(present ? "+" : "-")
  }
}
