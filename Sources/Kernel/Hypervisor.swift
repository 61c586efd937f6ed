import BootProtocols
import ControlProtocol
import HypervisorCore
import Synchronization

/// The hypervisor proper: picks the backend this CPU offers, creates the VMs the boot
/// modules describe and runs them; once every one has ended it reports, then waits for
/// commands (or powers off, with `batch` on the command line).
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
    HostRTC.start()
    // Before the NICs: with interrupt remapping on, their MSIs must be composed through it
    // (compatibility-format messages are blocked). Translation stays off until a VM owns a
    // device, so an NVMe PF's admin queue (SRIOVDevices) still DMAs untranslated.
    IOMMU.start(commandLine: boot.commandLine)
    // Before the other CPUs start: it may map the NIC's BARs in the kernel's page tables.
    ManagementNetwork.start(commandLine: boot.commandLine)
    DataNetwork.start()
    SRIOVDevices.start(PCIBus.enumerate())
    IOMMU.runSelfTest(commandLine: boot.commandLine)
    ApplicationProcessors.startAll(boot: boot, backend: everyCPU)
    SelfTests.awaitApplicationProcessorFault(commandLine: boot.commandLine)
    let topology = CPUTopology(
      apicIDs: CPUs.all.map { $0.apicID }, snapshots: CPUs.all.compactMap { $0.cpuidSnapshot })
    let placement = MachinePlacement(topology: topology)
    ApplicationProcessors.report(topology)
    let control = ControlService.start(
      commandLine: boot.commandLine, backend: ControlService.kind(of: Backend.self),
      topology: topology)
    let framesBeforeVMs = PhysicalFrames.freeFrames
    let scheduler = Scheduler(backend: backend, console: console, placement: placement)
    // `batch`: today's test runs: run the boot VMs, print the summary, power off. Without
    // it the node stays up after the summary (and with no VM at all), waiting for commands.
    let manager = VMManager(
      backend: backend, console: console, placement: placement, scheduler: scheduler,
      framesBeforeVMs: framesBeforeVMs,
      batch: KernelCommandLine.contains(flag: "batch", in: boot.commandLine))
    scheduler.manager = manager
    if let control {
      let vms = ManagerControl(manager: manager)
      control.vms = vms
      manager.leaseService = vms
    }
    // Test hooks (lifecycle_test=, manage_test=) drive the manager from the command line;
    // a lifecycle test keeps its VM's module back from the boot VMs.
    let script = ManagementScripts.make(boot: boot, manager: manager)
    VMLoader.createBootVMs(from: boot, manager: manager, held: script?.heldModule)
    let vms = manager.list()
    if KernelCommandLine.value(of: "selftest", in: boot.commandLine)
      == Array("bad-guest-state".utf8), let first = vms.first,
      let vm = manager.virtualMachine(first.id)
    {
      Log.warning("selftest: corrupting the first VM's guest state before its first entry")
      backend.corruptGuestState(vm)
    }
    manager.service = script?.service
    if vms.isEmpty && !(script?.service.holdsNode ?? false) {
      Log.warning("no guest to run (no module with a 'vm ...' profile)")
      if manager.batch { Machine.halt(status: .success) }
      Log.info("node: no VM is running; waiting for commands")
    }
    workLoop = scheduler
    workLoopReady.store(true, ordering: .releasing)
    // Wake the APs into the scheduler now, not at their first vCPU: each polls its own
    // machine-check banks from there (docs/node-health.md). Not those a boot VM's vCPU was
    // placed on: its adoption woke them already, and a second message could reach one after
    // it entered its guest, as one more exit of a pinned vCPU that should have none (the
    // net cases' spinner counted 23 exits instead of 22 when it did).
    let placed = vms.compactMap { manager.virtualMachine($0.id) }.flatMap { $0.hostCPUs }
    for cpu in CPUs.all where cpu.index != CPUs.current.index && !placed.contains(cpu.index) {
      if cpu.online.load(ordering: .acquiring) { cpu.post(.reschedule) }
    }
    CPUs.current.online.store(true, ordering: .releasing)
    scheduler.run(on: CPUs.current)
  }

  /// What every CPU runs once VMs exist: CPUs that come up first wait for it.
  nonisolated(unsafe) static var workLoop: (any CPUWorkLoop)?
  /// Set (releasing) once `workLoop` is written: an existential is two words, and an AP
  /// that read it while the bootstrap processor wrote it took half of it (a #PF at address
  /// 8). APs woken by the boot VMs' placement spin on this before reading `workLoop`.
  static let workLoopReady = Atomic<Bool>(false)
}
