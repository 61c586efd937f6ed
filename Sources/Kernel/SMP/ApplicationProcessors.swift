import BootProtocols
import CArch
import HypervisorCore
import Synchronization

/// Starts every application processor the MADT lists, one at a time, with INIT and start-up
/// IPIs through the real-mode trampoline (SDM 3A §9.4.4.1, "Typical AP initialization
/// sequence"): INIT, 10 ms, SIPI, 200 µs, a second SIPI if the AP has not begun, then up to
/// 200 ms for it to come online. Each AP's PhysicalCPU (descriptor tables, guarded stack,
/// GS area) exists before the AP runs; a CPU that does not start is reported and left out
/// of `CPUs.all`, whose indices stay dense. Each AP enables the bootstrap processor's
/// virtualization backend for itself and then waits in `idle`.
enum ApplicationProcessors {
  /// What the APs enable; set before the first AP starts and never changed afterwards.
  private static var backend = VirtualizationChoice.intelVTx
  private static var commandLine: [UInt8] = []
  /// CPUs that claimed their stack but cannot run guests (backend refused): parked for
  /// good, kept alive here because they still run on their PhysicalCPU's stack.
  private static var parked: [PhysicalCPU] = []
  /// The AP being started gave up (its backend refused): it is parked.
  private static let startingAPParked = Atomic<Bool>(false)
  /// smp_test_refuse: the AP being started acts as if its backend refused. Written before
  /// the AP is started, read by it after it claims its parameters (a locked CMPXCHG).
  private static var refuseBackend = false

  static let initDelayMicroseconds: UInt64 = 10_000
  static let startupDelayMicroseconds: UInt64 = 200
  static let onlineTimeoutMicroseconds: UInt64 = 200_000

  enum Outcome {
    case online
    /// Never ran the trampoline's 64-bit part: its stack and GS area can be reused.
    case didNotStart
    /// Ran, but its backend refused; it is parked and keeps its stack.
    case parked
    /// Took its parameters but never came online: stop here, it may still run.
    case stalled
  }

  /// Starts the others from the bootstrap processor, after its backend is enabled (in
  /// `CPUs.all[0].processor`) and LocalAPIC.calibrate() has run; returns when each AP is
  /// online or given up on, having printed `cpus: N online` and one line per CPU.
  static func startAll(boot: BootInformation, backend choice: VirtualizationChoice) {
    backend = choice
    commandLine = boot.commandLine
    let bootstrap = CPUs.all[0]
    bootstrap.online.store(true, ordering: .releasing)
    var plan = ProcessorStartPlan(
      processors: FirmwareProcessors.listed, bootstrapAPICID: bootstrap.apicID,
      commandLine: boot.commandLine)
    for skipped in plan.skipped { reportSkipped(skipped) }
    guard plan.limit > 1, !plan.candidates.isEmpty else {
      if plan.limit == 1 && !plan.candidates.isEmpty {
        Log.info("smp: starting no other CPU (nosmp or maxcpus=1)")
      }
      return
    }
    guard APTrampoline.install(boot) else { return }

    // Every stack (and its guard page's page-table change) is made before any AP runs.
    var stacks: [CPUStack] = []
    for _ in 0..<min(plan.candidates.count, plan.limit - 1) {
      guard let stack = CPUStack.allocate() else { break }
      stacks.append(stack)
    }
    starting: for apicID in plan.candidates {
      guard CPUs.all.count < plan.limit else {
        reportNotStarted(apicID: apicID, because: "maxcpus")
        continue
      }
      // A parked CPU keeps its stack, so the pool may run dry: a new stack's guard is then
      // unmapped while other APs run, which is safe because none of them uses that page.
      guard let stack = stacks.popLast() ?? CPUStack.allocate() else {
        reportNotStarted(apicID: apicID, because: "out of memory for its stack")
        continue
      }
      let index = CPUs.all.count
      // Each hook fires once: the next CPU takes the number and starts.
      let mute = plan.simulatedFailure == index
      if mute { plan.simulatedFailure = nil }
      refuseBackend = plan.simulatedBackendFailure == index
      if refuseBackend { plan.simulatedBackendFailure = nil }
      switch start(apicID: apicID, index: index, stack: stack, mute: mute) {
      case .online:
        continue
      case .didNotStart:
        reportFailure(index: index, apicID: apicID, "did not start; continuing without it")
        stacks.append(stack)
      case .parked:
        continue
      case .stalled:
        reportFailure(
          index: index, apicID: apicID,
          "started but did not come online; starting no further CPUs")
        break starting
      }
    }
    for stack in stacks { stack.release() }
  }

  /// One AP: its block, INIT-SIPI-SIPI, and the wait. `mute` sends it to a page that never
  /// answers instead (the smp_test_fail hook).
  private static func start(apicID: UInt32, index: Int, stack: CPUStack, mute: Bool) -> Outcome {
    let area = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
    area.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
    let localArea = area.bindMemory(to: CPULocalArea.self, capacity: 1)
    let cpu = PhysicalCPU(
      index: index, apicID: apicID, localArea: localArea, stack: (stack.bottom, stack.top))
    localArea.pointee.cpu = UInt64(UInt(bitPattern: Unmanaged.passUnretained(cpu).toOpaque()))
    CPUs.all.append(cpu)
    startingAPParked.store(false, ordering: .releasing)
    let started = APTrampoline.prepare(
      apicID: apicID, localArea: UInt64(UInt(bitPattern: area)), stackTop: stack.top)
    if mute {
      Log.begin(.warning)
      Console.write("smp_test_fail: sending cpu ")
      Console.write(decimal: UInt64(index))
      Console.write(" to a page that never answers")
      Log.end()
    }
    let vector = mute ? APTrampoline.muteVector : APTrampoline.startupVector

    // INIT assert, then de-assert as SDM 3A §11.6.1 describes for level-triggered INIT;
    // then two start-up IPIs, the second only if the first did not start it (§9.4.4.1).
    LocalAPIC.sendINIT(to: apicID)
    delay(microseconds: initDelayMicroseconds)
    LocalAPIC.send(low: 0b101 << 8 | 1 << 15, to: apicID)
    LocalAPIC.sendStartup(page: vector, to: apicID)
    delay(microseconds: startupDelayMicroseconds)
    if !APTrampoline.anyStarted(since: started) {
      LocalAPIC.sendStartup(page: vector, to: apicID)
    }

    var arrived = waitUntilOnline(cpu, microseconds: onlineTimeoutMicroseconds)
    if !arrived && !startingAPParked.load(ordering: .acquiring) {
      if APTrampoline.cancel() {
        forget(cpu)
        area.deallocate()
        return .didNotStart
      }
      // It claimed its parameters just now: give it as long again.
      arrived = waitUntilOnline(cpu, microseconds: onlineTimeoutMicroseconds)
    }
    if arrived { return .online }
    forget(cpu)
    parked.append(cpu)
    return startingAPParked.load(ordering: .acquiring) ? .parked : .stalled
  }

  private static func forget(_ cpu: PhysicalCPU) {
    CPUs.all.removeLast()
    cpu.localArea.pointee.index = 0x1000 + UInt64(cpu.apicID)  // never a live CPU's number
  }

  private static func waitUntilOnline(_ cpu: PhysicalCPU, microseconds: UInt64) -> Bool {
    let end = arch_rdtsc() &+ ticks(microseconds: microseconds)
    while arch_rdtsc() < end {
      if cpu.online.load(ordering: .acquiring) { return true }
      if startingAPParked.load(ordering: .acquiring) { return false }
      arch_pause()
    }
    return cpu.online.load(ordering: .acquiring)
  }

  private static func ticks(microseconds: UInt64) -> UInt64 {
    max(LocalAPIC.tscPerMillisecond, 1) &* microseconds / 1000
  }

  private static func delay(microseconds: UInt64) {
    let end = arch_rdtsc() &+ ticks(microseconds: microseconds)
    while arch_rdtsc() < end { arch_pause() }
  }

  // MARK: On the application processor

  /// peregrine_ap_main's continuation, on the AP's own stack with its descriptor tables
  /// and local APIC ready: the backend, then online, then idle.
  static func arrived(_ cpu: PhysicalCPU) -> Never {
    SelfTests.runOnApplicationProcessor(index: cpu.index, commandLine: commandLine)
    let enabled =
      refuseBackend
      ? .failure(.init(message: "refused by smp_test_refuse"))
      : backend.enableOnThisCPU(index: cpu.index)
    switch enabled {
    case .success(let processor):
      cpu.processor = processor
    case .failure(let error):
      Log.begin(.error)
      Console.write("cpu ")
      Console.write(decimal: UInt64(cpu.index))
      Console.write(" (apic ")
      Console.write(decimal: UInt64(cpu.apicID))
      Console.write("): could not enable ")
      Console.write(backend.name)
      Console.write(": ")
      Console.write(error.message)
      Console.write("; parked")
      Log.end()
      startingAPParked.store(true, ordering: .releasing)
      while true {
        arch_cli()
        arch_hlt()
      }
    }
    cpu.online.store(true, ordering: .releasing)
    idle(cpu)
  }

  /// Where an online AP waits for work: asleep until the hypervisor has a work loop (the
  /// scheduler), which it then runs for good. It announces sleep before looking, as the
  /// scheduler's idle does, so the kick that follows the work is never missed.
  static func idle(_ cpu: PhysicalCPU) -> Never {
    while true {
      if Hypervisor.workLoopReady.load(ordering: .acquiring), let loop = Hypervisor.workLoop {
        loop.run(on: cpu)
      }
      cpu.setActivity(.idle)
      if !Hypervisor.workLoopReady.load(ordering: .acquiring)
        && !cpu.hasPosted.load(ordering: .sequentiallyConsistent)
      {
        arch_sti_hlt_cli()
      }
      cpu.setActivity(.busy)
    }
  }

  // MARK: Reports

  /// `cpus: N online`, then each CPU's number, APIC ID and place in `topology`.
  static func report(_ topology: CPUTopology) {
    guard Log.begin(.info) else { return }
    Console.write("cpus: ")
    Console.write(decimal: UInt64(CPUs.onlineCount))
    Console.write(" online")
    Log.end()
    for cpu in CPUs.all {
      Log.begin(.info)
      if cpu.index < topology.count {
        Console.write(bytes: topology.description(of: cpu.index))
      } else {
        Console.write("cpu ")
        Console.write(decimal: UInt64(cpu.index))
      }
      if cpu.index == 0 { Console.write(", bootstrap processor") }
      if cpu.processor != nil {
        Console.write(", ")
        Console.write(backend.name)
        Console.write(" on")
      }
      Log.end()
    }
  }

  private static func reportFailure(index: Int, apicID: UInt32, _ what: StaticString) {
    Log.begin(.error)
    Console.write("cpu ")
    Console.write(decimal: UInt64(index))
    Console.write(" (apic ")
    Console.write(decimal: UInt64(apicID))
    Console.write(") ")
    Console.write(what)
    Log.end()
  }

  private static func reportNotStarted(apicID: UInt32, because reason: StaticString) {
    Log.begin(.info)
    Console.write("smp: apic ")
    Console.write(decimal: UInt64(apicID))
    Console.write(" not started: ")
    Console.write(reason)
    Log.end()
  }

  private static func reportSkipped(_ skipped: ProcessorStartPlan.Skipped) {
    switch skipped.reason {
    case .disabled: reportNotStarted(apicID: skipped.apicID, because: "disabled in the MADT")
    case .duplicate: reportNotStarted(apicID: skipped.apicID, because: "listed twice in the MADT")
    case .needsX2APIC:
      reportNotStarted(apicID: skipped.apicID, because: "x2APIC ID, unreachable in xAPIC mode")
    }
  }
}

/// The AP arrives here from boot/ap_trampoline.asm in long mode on the kernel's page tables,
/// on its own stack, with IA32_GS_BASE at its CPULocalArea and interrupts off.
@_cdecl("peregrine_ap_main")
func peregrineAPMain() -> Never {
  let cpu = CPUs.current
  cpu.becomeCurrent()
  LocalAPIC.initialize()
  ApplicationProcessors.arrived(cpu)
}
