import BootProtocols
import CArch
import HypervisorCore
import Memory

/// The bootstrap processor arrives here from boot/multiboot2_entry.asm in long mode, on the
/// boot stack, with the boot stub's identity map of the low 4 GiB.
@_cdecl("kmain")
func kmain(_ magic: UInt32, _ informationAddress: UInt32) -> Never {
  Console.port.initialize()
  Console.write("\nPeregrine ")
  Console.write(BuildInfo.version)
  Console.write(" -- a Type-I hypervisor for high-performance computing\n")

  CPUs.startBootstrapProcessor()
  LegacyPIC.remapAndMask()
  let boot = BootSequence.readBootInformation(at: UInt64(informationAddress))
  BootSequence.applyCommandLine(boot.commandLine)
  BootSequence.findSymbols(in: boot)
  BootSequence.printMemoryMap(boot.memoryMap)
  BootSequence.initializeFrameAllocator(boot)
  BootSequence.initializeKernelPageTables(boot)
  AcpiPower.discover(rsdp: boot.rsdp)
  let features = CPUProbe.detect()
  CPUProbe.report(features)

  SelfTests.runRequested(commandLine: boot.commandLine)
  Hypervisor.start(boot: boot, features: features)
}
