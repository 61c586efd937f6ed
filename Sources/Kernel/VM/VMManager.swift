import CArch
import HypervisorCore
import Synchronization

/// The node's VMs as the control plane sees them: create one at run time from a profile
/// and images already in memory, pause, unpause, destroy, list, status, and power the node
/// off. Called on CPU 0 between slices (the control server, the boot path, test scripts);
/// the scheduler tells it, from any CPU, when a VM starts ending, when its last vCPU
/// parked, and when it is released. Commands take effect at safe points: a request bit
/// posted to each vCPU, acted on by the vCPU's own CPU between exits, never in one.
/// Every refusal changes nothing (VMRegistry checks first).
final class VMManager<Backend: VirtualizationBackend> {
  let backend: Backend
  let console: HypervisorConsole
  let placement: MachinePlacement
  let scheduler: Scheduler<Backend>
  /// `batch` on the command line: power off once no VM is left (the test suite's mode).
  let batch: Bool
  /// Free physical frames before any VM existed: once every VM has ended, all are back.
  let framesBeforeVMs: Int
  /// Work CPU 0 does between slices: the control server, or a test script.
  var service: (any NodeService)?
  /// The control server's migration leases (MigrationLeaseControl): polled as `service` is,
  /// but, unlike a test script, it does not make CPU 0's slices end for it.
  var leaseService: (any NodeService)?
  /// New VMs make no creation, stop or release reports (tests that create hundreds).
  var quiet = false

  private let lock = TicketLock()
  private var registry: VMRegistry
  private var live: [VirtualMachine?]
  /// Ended since the last summary: reported ones, and the figures of quiet ones.
  private var ended: [VirtualMachine] = []
  private var quietEnded = 0
  private var quietTotal = ExitStatistics()
  private var powerOffRequested = false
  private var failedVMs = 0
  /// One CPU prints the last summary and powers off; another CPU releasing its VM at the
  /// same moment must not halt the machine under that summary.
  private var haltClaimed = false

  init(
    backend: Backend, console: HypervisorConsole, placement: MachinePlacement,
    scheduler: Scheduler<Backend>, framesBeforeVMs: Int, batch: Bool, capacity: Int = 256
  ) {
    self.backend = backend
    self.console = console
    self.placement = placement
    self.scheduler = scheduler
    self.framesBeforeVMs = framesBeforeVMs
    self.batch = batch
    registry = VMRegistry(capacity: capacity)
    live = [VirtualMachine?](repeating: nil, count: capacity)
  }

  // MARK: Commands

  /// Builds, places and starts a VM. Its vCPUs run as soon as their CPUs look at their
  /// inboxes. Refused (with nothing changed) when the name is taken, no identity is free,
  /// admission finds no CPUs, or the profile or images are unusable.
  /// `incoming`: built as a normal create builds it (devices, PCI, NICs, disk, placement),
  /// its memory zeroed and nothing loaded; its vCPUs are handed to their CPUs parked, and run
  /// only once `restore` put a saved state in (docs/checkpoint.md).
  func create(_ profile: VMProfile, images: VMImages, incoming: Bool = false)
    -> Result<Int, ManagementRefusal>
  {
    let started = arch_rdtsc()
    // An incoming VM loads no image: its profile is checked as one whose image could fill
    // the memory above its load address (every other rule applies unchanged).
    let imageSize =
      incoming
      ? max(1, profile.memorySize &- min(profile.loadAddress, profile.memorySize))
      : UInt64(images.kernel.count)
    if let error = profile.validate(imageSize: imageSize) {
      return .failure(.invalid(error.message))
    }
    // Memory the node does not have is refused before any frame is taken (building the
    // address space would find out only after allocating all there is).
    guard profile.memorySize / 4096 < UInt64(PhysicalFrames.freeFrames) else {
      return .failure(.invalid("not enough free memory for the VM"))
    }
    let id: Int
    switch lock.withLock({ registry.reserve(name: profile.name) }) {
    case .success(let reserved): id = reserved
    case .failure(let refusal): return .failure(refusal)
    }
    let cpus: [Int]
    switch placement.place(profile, vm: id) {
    case .success(let chosen): cpus = chosen
    case .failure(let refusal):
      lock.withLock { _ = registry.apply(.failed, to: id) }
      return .failure(.placement(refusal))
    }
    // Guest NICs: on the node's switch before anything is built (docs/guest-io.md).
    let (nics, nicRefusal) = GuestNICs.create(for: profile, incoming: incoming)
    if let nicRefusal {
      placement.release(vm: id)
      lock.withLock { _ = registry.apply(.failed, to: id) }
      return .failure(.invalid(nicRefusal))
    }
    let framesBefore = PhysicalFrames.freeFrames
    let vm: VirtualMachine
    switch VMLoader.build(
      profile, images: images, id: id, backend: backend, console: console, quiet: quiet,
      incoming: incoming)
    {
    case .success(let built): vm = built
    case .failure(let refusal):
      GuestNICs.abandon(nics)
      placement.release(vm: id)
      lock.withLock { _ = registry.apply(.failed, to: id) }
      return .failure(refusal)
    }
    vm.hostCPUs = cpus
    vm.createdAt = started
    // Its disk before its vCPUs run (the virtio-blk function reads `vm.disk`).
    if let disk = images.transferredDisk { vm.disk = disk }
    GuestNICs.adopt(nics, by: vm)
    GuestNICs.attach(nics, to: vm)
    // Another CPU allocating meanwhile (a NIC ring, another VM) would count here too; boot
    // VMs are built one after another before the other CPUs allocate.
    let ramFrames = Int((profile.memorySize + 4095) / 4096)
    vm.framesBeyondRAM = max(0, framesBefore - PhysicalFrames.freeFrames - ramFrames)
    vm.quietReports = quiet
    if incoming {
      // Parked from the start, as a paused VM's vCPUs are: no CPU enters them, none counts
      // them awake, and the unpark in `restore` is the pause machinery's own.
      for vcpu in vm.vcpus { vcpu.parked = true }
      vm.parkedVCPUs.store(vm.vcpus.count, ordering: .relaxed)
      vm.pauseRequested.store(true, ordering: .sequentiallyConsistent)
    }
    lock.withLock {
      live[id] = vm
      _ = registry.apply(incoming ? .startedIncoming : .started, to: id)
    }
    scheduler.place(vm)
    return .success(id)
  }

  /// Why `restore` refused: the VM's lifecycle, or a state that does not fit it.
  enum RestoreRefusal: Error {
    case lifecycle(ManagementRefusal)
    case mismatch(IncomingRestore.Refusal)
  }

  /// Puts `saved` into incoming VM `id` and starts it: every check first (lifecycle, memory
  /// size, vCPUs, local APICs, device layout), then the VM-wide devices here (no vCPU runs),
  /// each vCPU's record staged for its own CPU, which applies it (with the TSC offset that
  /// continues the guest's TSC) and its local APIC as it unparks the vCPU.
  func restore(_ id: Int, saved: SavedVMState) -> Result<Void, RestoreRefusal> {
    let found: Result<VirtualMachine, RestoreRefusal> = lock.withLock {
      if let refusal = registry.check(.restored, for: id) { return .failure(.lifecycle(refusal)) }
      guard let vm = live[id] else { return .failure(.lifecycle(.unknownVM)) }
      do throws(IncomingRestore.Refusal) {
        try IncomingRestore.stage(saved, into: vm)
      } catch {
        return .failure(.mismatch(error))
      }
      _ = registry.apply(.restored, to: id)
      vm.savedState = nil
      // Sequentially consistent: a CPU that sees it clear sees the staged records.
      vm.pauseRequested.store(false, ordering: .sequentiallyConsistent)
      return .success(vm)
    }
    guard case .success(let vm) = found else {
      if case .failure(let refusal) = found { return .failure(refusal) }
      return .failure(.lifecycle(.unknownVM))
    }
    GuestNICs.activate(id)
    vm.rescheduleHostCPUs()
    return .success(())
  }

  /// Stops scheduling every vCPU of VM `id`, wherever it runs: each one's CPU parks it
  /// after its current exit (the posted `reschedule` makes a vCPU in the guest exit). The
  /// VM is `pausing` until the last vCPU parked, then `paused`.
  func pause(_ id: Int) -> Result<Void, ManagementRefusal> {
    var resuming = false
    let found: VirtualMachine? = lock.withLock {
      guard registry.check(.pauseRequested, for: id) == nil, let vm = live[id] else { return nil }
      // A vCPU still parked from the last pause would never park again, so the VM would
      // stay `pausing`: the pause waits until every vCPU has left the last one.
      guard vm.parkedVCPUs.load(ordering: .acquiring) == 0 else {
        resuming = true
        return nil
      }
      _ = registry.apply(.pauseRequested, to: id)
      vm.allParkedAt.store(0, ordering: .relaxed)
      vm.pauseRequestedAt.store(arch_rdtsc(), ordering: .relaxed)
      vm.pauseRequested.store(true, ordering: .sequentiallyConsistent)
      return vm
    }
    guard let vm = found else {
      return .failure(resuming ? .stillResuming : refusal(.pauseRequested, id))
    }
    for vcpu in vm.vcpus { vcpu.post(.reschedule) }
    return .success(())
  }

  /// Resumes a paused VM. Guest time stood still while it was paused: each vCPU's CPU sets
  /// its TSC and APIC timer back by the paused span before it runs it again, and the
  /// VM-wide timers (the PIT) are moved here, while no vCPU runs (docs/lifecycle.md).
  func unpause(_ id: Int) -> Result<Void, ManagementRefusal> {
    let found: VirtualMachine? = lock.withLock {
      guard registry.check(.unpauseRequested, for: id) == nil, let vm = live[id] else {
        return nil
      }
      _ = registry.apply(.unpauseRequested, to: id)
      let span = arch_rdtsc() &- vm.allParkedAt.load(ordering: .acquiring)
      vm.lockDevices()
      for device in vm.timedDevices { device.shiftTime(by: span) }
      vm.unlockDevices()
      vm.pausedCycles &+= span
      // A resumed VM shows no state: what was captured goes stale with its first exit.
      vm.savedState = nil
      // Sequentially consistent: a CPU that sees the VM resumed sees `pausedCycles`.
      vm.pauseRequested.store(false, ordering: .sequentiallyConsistent)
      return vm
    }
    guard let vm = found else { return .failure(refusal(.unpauseRequested, id)) }
    // Inbox mail, not a vCPU request: it ends the slice of whatever runs on those CPUs (the
    // kick handler), so the resumed vCPUs get their turn even beside a vCPU that never exits.
    vm.rescheduleHostCPUs()
    return .success(())
  }

  /// Ends VM `id` on every core (the scheduler's stop: a `stop` request to each vCPU);
  /// its CPUs detach the vCPUs and the last one returns every frame, nested page tables
  /// and control blocks included. The VM is `stopping` until then, and gone after.
  func destroy(_ id: Int) -> Result<Void, ManagementRefusal> {
    let found: VirtualMachine? = lock.withLock {
      registry.check(.stopRequested, for: id) == nil ? live[id] : nil
    }
    guard let vm = found else { return .failure(refusal(.stopRequested, id)) }
    guard scheduler.stop(vm, reason: .operatorRequest, vcpu: nil) else {
      return .failure(.stopping)
    }
    return .success(())
  }

  /// Every live VM, in identity order.
  func list() -> [VMStatus] {
    let ids = lock.withLock { registry.entries.map { $0.id } }.sorted()
    return ids.compactMap { id in
      if case .success(let status) = status(id) { return status }
      return nil
    }
  }

  func status(_ id: Int) -> Result<VMStatus, ManagementRefusal> {
    let found: (VirtualMachine, VMLifecycle)? = lock.withLock {
      guard let lifecycle = registry.lifecycle(of: id), let vm = live[id] else { return nil }
      return (vm, lifecycle)
    }
    guard let (vm, lifecycle) = found else { return .failure(.unknownVM) }
    return .success(VMStatus(vm, lifecycle: lifecycle, now: arch_rdtsc()))
  }

  /// A live VM and its lifecycle, without building a status (its per-vCPU and per-reason
  /// exit counts): what `memoryRead` and `memoryWrite` check once per 1 KiB datagram.
  func lifecycle(_ id: Int) -> (VirtualMachine, VMLifecycle)? {
    lock.withLock {
      guard let lifecycle = registry.lifecycle(of: id), let vm = live[id] else { return nil }
      return (vm, lifecycle)
    }
  }

  /// The VM object behind a live identity (boot self-tests, test scripts).
  func virtualMachine(_ id: Int) -> VirtualMachine? {
    lock.withLock { live.indices.contains(id) ? live[id] : nil }
  }

  /// VMs ended by a fault since boot (node health).
  var failedVMCount: Int { lock.withLock { failedVMs } }

  func id(named name: [UInt8]) -> Int? { lock.withLock { registry.id(named: name) } }

  func name(of id: Int) -> [UInt8]? {
    lock.withLock { live.indices.contains(id) ? live[id]?.name : nil }
  }

  /// Ends every VM, then powers the node off once the last one is released.
  func powerOff() {
    let vms: [VirtualMachine] = lock.withLock {
      powerOffRequested = true
      return live.compactMap { $0 }
    }
    Log.info("node: power off requested: ending every VM")
    for vm in vms { scheduler.stop(vm, reason: .operatorRequest, vcpu: nil) }
    checkIdle()
  }

  /// The service has finished (a test script): the node may now be idle.
  func serviceFinished() {
    lock.withLock { service = nil }
    checkIdle()
  }

  // MARK: From the scheduler (any CPU)

  /// CPU 0, between slices: the node service's turn. Returns when it wants to run again.
  func serviceTick() -> UInt64? {
    IOMMU.pollFaults()
    PassthroughDevices.service()
    let leaseDue = leaseService?.poll(now: arch_rdtsc())
    guard let service else { return leaseDue }
    let due = service.poll(now: arch_rdtsc())
    guard let due, let leaseDue else { return due ?? leaseDue }
    return min(due, leaseDue)
  }

  /// `vm` started ending (destroyed, or the guest ended on its own).
  func stopping(_ vm: VirtualMachine) {
    lock.withLock { _ = registry.apply(.stopRequested, to: vm.id) }
  }

  /// The last vCPU of a pausing VM parked.
  func allParked(_ vm: VirtualMachine) {
    // Reported before the state changes: whoever sees it paused sees this line first.
    defer { lock.withLock { _ = registry.apply(.allParked, to: vm.id) } }
    guard !vm.quietReports, Log.begin(.info) else { return }
    VMReport.vmLabel(vm)
    Console.write(": paused, ")
    Console.write(decimal: UInt64(vm.vcpus.count))
    Console.write(vm.vcpus.count == 1 ? " vCPU parked " : " vCPUs parked ")
    Console.write(
      decimal: vm.allParkedAt.load(ordering: .acquiring)
        &- vm.pauseRequestedAt.load(ordering: .acquiring))
    Console.write(" cycles after the request")
    Log.end()
  }

  /// `vm`'s last vCPU was detached and its memory returned: its identity and name are free.
  func released(_ vm: VirtualMachine) {
    lock.withLock {
      _ = registry.apply(.released, to: vm.id)
      live[vm.id] = nil
      if case .stopped(let reason) = vm.state, reason.isFailure { failedVMs += 1 }
      if vm.quietReports {
        quietEnded += 1
        quietTotal.add(vm.totalStatistics())
      } else {
        ended.append(vm)
      }
    }
    checkIdle()
  }

  /// No VM left and no service holding the node: the summary of the VMs that ended since
  /// the last one; then, in batch mode or when asked to, power off, else wait for commands.
  private func checkIdle() {
    let report: (vms: [VirtualMachine], quiet: Int, powerOff: Bool)? = lock.withLock {
      guard registry.entries.isEmpty, !(service?.holdsNode ?? false), !haltClaimed else {
        return nil
      }
      let off = batch || powerOffRequested
      guard !ended.isEmpty || quietEnded > 0 || off else { return nil }
      if off { haltClaimed = true }
      defer {
        ended = []
        quietEnded = 0
      }
      // In creation order, as the VMs were listed when they started.
      return (ended.sorted { $0.createdAt < $1.createdAt }, quietEnded, off)
    }
    guard let report else { return }
    if !report.vms.isEmpty || report.quiet > 0 {
      let total = lock.withLock {
        defer { quietTotal = ExitStatistics() }
        return quietTotal
      }
      Console.together {
        Summary.print(report.vms, quietCount: report.quiet, quietTotal: total)
        Summary.printFrames(before: framesBeforeVMs)
        SMPReport.print()
      }
    }
    if report.powerOff { Machine.halt(status: .success) }
    Log.info("node: no VM is running; waiting for commands")
  }

  private func refusal(_ event: VMLifecycle.Event, _ id: Int) -> ManagementRefusal {
    lock.withLock { registry.check(event, for: id) } ?? .unknownVM
  }
}

/// Images a VM is built from, already in memory: a flat guest's binary or a bzImage, and
/// an initramfs for Linux. Boot modules today; bytes the control protocol received later.
struct VMImages {
  /// A disk made from a transferred image (`TransferredDisks`): its frames become the VM's
  /// as they are, no copy; nil for none.
  var transferredDisk: DiskImage? = nil
  var kernel: UnsafeRawBufferPointer
  var initrd: UnsafeRawBufferPointer?
  /// A multiboot guest's modules, in order, with the string the guest sees with each.
  var modules: [(bytes: UnsafeRawBufferPointer, string: [UInt8])] = []
  /// The image behind a boot profile's `disk=`: the module `disk vm=NAME`, of which the VM
  /// gets its own copy (`VMDisk.make`). A transferred image comes as `transferredDisk`.
  var disk: UnsafeRawBufferPointer? = nil
}

/// Work the node does on CPU 0 between slices (the control server, a test script). While
/// one is installed, CPU 0 never runs a vCPU without a time slice, so it gets the core back.
protocol NodeService: AnyObject {
  /// Does what is due; returns the host TSC at which it wants to run again (nil: only when
  /// CPU 0 wakes for other work).
  func poll(now: UInt64) -> UInt64?
  /// While true, the node is not idle even with no VM: no summary, and no power off in
  /// batch mode (a test script between two VMs). The control server never holds it.
  var holdsNode: Bool { get }
}

extension NodeService {
  var holdsNode: Bool { true }
}
