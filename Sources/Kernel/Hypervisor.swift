import BootProtocols
import ControlProtocol
import HypervisorCore
import Synchronization

/// The hypervisor proper: picks the backend this CPU offers, creates the VMs the boot
/// modules describe, runs them until every one has ended, reports, and powers off.
enum Hypervisor {
  static func start(boot: BootInformation, features: CPUFeatures) -> Never {
    let console = HypervisorConsole()
    if let svm = features.svm, svm.nestedPaging {
      Log.info("virtualization: AMD-V with nested paging")
      switch SVMProcessor.enable(features: svm, commandLine: boot.commandLine, processor: 0) {
      case .success(let processor):
        CPUs.all[0].processor = processor
        run(
          SVMBackend(console: console), boot: boot, console: console,
          everyCPU: .amdV(svm, commandLine: boot.commandLine))
      case .failure(let error):
        Log.line(.error, error.message)
        Machine.halt(status: .failure)
      }
    }
    if let vmx = features.vmx, vmx.extendedPageTables, vmx.unrestrictedGuest {
      Log.info("virtualization: Intel VT-x with EPT")
      switch VMXProcessor.enable() {
      case .success(let processor):
        CPUs.all[0].processor = processor
        run(VMXBackend(console: console), boot: boot, console: console, everyCPU: .intelVTx)
      case .failure(let error):
        Log.line(.error, error.message)
        Machine.halt(status: .failure)
      }
    }
    if let vmx = features.vmx, vmx.lockedOff {
      Log.error(
        "VMX is locked off by the firmware (IA32_FEATURE_CONTROL): enable VT-x in the BIOS setup")
      Machine.halt(status: .failure)
    }
    if let vmx = features.vmx, !vmx.extendedPageTables || !vmx.unrestrictedGuest {
      Log.error("VMX lacks EPT or unrestricted guest, which Peregrine requires")
      Machine.halt(status: .failure)
    }
    Log.error(
      "this CPU offers neither VMX with EPT nor SVM with nested paging: Peregrine cannot run guests here"
    )
    Machine.halt(status: .failure)
  }

  /// `everyCPU` is how the application processors enable the same backend for themselves.
  static func run<Backend: VirtualizationBackend>(
    _ backend: Backend, boot: BootInformation, console: HypervisorConsole,
    everyCPU: VirtualizationChoice
  ) -> Never {
    LocalAPIC.initialize()
    LocalAPIC.calibrate()
    // Before the other CPUs start: it may map the NIC's BARs in the kernel's page tables.
    ManagementNetwork.start(commandLine: boot.commandLine)
    ApplicationProcessors.startAll(boot: boot, backend: everyCPU)
    let topology = CPUTopology(
      apicIDs: CPUs.all.map { $0.apicID }, snapshots: CPUs.all.compactMap { $0.cpuidSnapshot })
    let placement = MachinePlacement(topology: topology)
    ApplicationProcessors.report(topology)
    _ = ControlService.start(
      commandLine: boot.commandLine, backend: ControlService.kind(of: Backend.self), topology: topology)
    let framesBeforeVMs = PhysicalFrames.freeFrames
    let vms = VMLoader.createVMs(
      from: boot, backend: backend, console: console, placement: placement)
    if vms.isEmpty {
      Log.warning("no guest to run (no module with a 'vm ...' profile)")
      Machine.halt(status: .success)
    }
    if KernelCommandLine.value(of: "selftest", in: boot.commandLine)
      == Array("bad-guest-state".utf8)
    {
      Log.warning("selftest: corrupting the first VM's guest state before its first entry")
      backend.corruptGuestState(vms[0])
    }
    let scheduler = Scheduler(
      backend: backend, console: console, vms: vms, placement: placement,
      framesBeforeVMs: framesBeforeVMs)
    workLoop = scheduler
    CPUs.current.online.store(true, ordering: .releasing)
    scheduler.placeAll()
    scheduler.run(on: CPUs.current)
  }

  /// What every CPU runs once VMs exist: CPUs that come up first wait for it.
  nonisolated(unsafe) static var workLoop: (any CPUWorkLoop)?
}
