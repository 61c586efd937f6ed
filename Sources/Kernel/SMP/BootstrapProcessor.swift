import CArch

extension CPUs {
  /// The bootstrap processor's block: CPU 0, on the boot stack linker.ld reserves, with the
  /// CPULocalArea the boot stub pointed GS at. Runs first in kmain; the heap works already.
  static func startBootstrapProcessor() {
    let apicID = arch_cpuid(1, 0).ebx >> 24  // initial APIC ID (SDM 2A CPUID leaf 1 EBX[31:24])
    let cpu = PhysicalCPU(
      index: 0, apicID: apicID, localArea: withUnsafeMutablePointer(to: &bsp_cpu_local) { $0 },
      stack: (KernelLayout.stackGuard + 4096, KernelLayout.stackTop))
    all = [cpu]
    cpu.becomeCurrent()
  }
}
