import CArch

/// The bootstrap processor's descriptor tables: a GDT with a TSS (VMX requires a non-null
/// host TR, and the TSS carries the interrupt stacks) and the IDT.
enum BootCPU {
  static var descriptors = CPUDescriptorTables()
  static var interrupts = InterruptDescriptorTable()

  static func installDescriptorTables() {
    descriptors.load()
    interrupts.installStubs(codeSelector: CPUDescriptorTables.codeSelector)
    interrupts.load()
  }
}
