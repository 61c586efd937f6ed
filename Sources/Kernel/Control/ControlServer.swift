import BootProtocols
import CArch
import ControlProtocol
import HypervisorCore
import Memory
import NetworkProtocols
import Synchronization

/// The node's side of the control protocol (docs/control-protocol.md) on UDP port 7100:
/// every datagram goes through `ControlReceiver` (authenticate, epoch, replay window,
/// response cache) and only a new, authentic request is executed; refusals are counted in
/// the receiver's counters and change nothing. Runs on CPU 0, between slices.
final class ControlServer: UDPService {
  /// NodeBoot.controlPort on the CLI's side.
  static let port: UInt16 = 7100

  private var receiver: ControlReceiver
  /// Images up to the node's free memory (a VM's disk may be larger than a kernel's 128
  /// MiB); `TransferCapacity` refuses what does not fit, with the numbers.
  private var assembler = TransferAssembler<FrameTransferStorage>(limits: ControlServer.limits)
  private static var limits: TransferAssembler<FrameTransferStorage>.Limits {
    var limits = TransferAssembler<FrameTransferStorage>.Limits()
    limits.maximumSize = 4 << 30
    return limits
  }
  private var images = ImageStore()
  private let backend: NodeInfo.Backend
  private let topology: CPUTopology
  /// The node's VMs; nil until the VM manager exists.
  var vms: (any VMControl)?
  /// Health transitions seen by node-info requests (docs/node-health.md).
  private var history = HealthHistory(capacity: ProtocolLimits.maximumHealthHistory)

  init(key: [UInt8], epoch: UInt64, backend: NodeInfo.Backend, topology: CPUTopology) {
    receiver = ControlReceiver(key: key, epoch: epoch)
    self.backend = backend
    self.topology = topology
  }

  var counters: ReceiverCounters { receiver.counters }

  func received(_ datagram: ReceivedDatagram) -> [UInt8]? {
    let now = ManagementNetwork.milliseconds()
    // Transfers without a chunk for 30 s are cut off here, their frames freed.
    _ = assembler.expire(now: now)
    switch receiver.receive(datagram.payload) {
    case .drop:
      return nil
    case .send(let bytes):
      return bytes
    case .execute(let accepted):
      if case .powerOff = accepted.request {
        powerOff(answering: accepted, to: datagram)
        return nil
      }
      let started = arch_rdtsc()
      let response = execute(accepted.request, now: now)
      noteLongRequest(since: started)
      return receiver.respond(to: accepted, with: response)
    }
  }

  /// Logs a request that held CPU 0 (and so the control loop and CPU 0's vCPUs) for
  /// `longRequestMilliseconds` or more: how docs/control-protocol.md measures the stall
  /// hashing used to cause.
  private func noteLongRequest(since started: UInt64) {
    let milliseconds = (arch_rdtsc() &- started) / max(LocalAPIC.tscPerMillisecond, 1)
    guard milliseconds >= Self.longRequestMilliseconds, Log.begin(.info) else { return }
    Console.write("control: one request held CPU 0 for ")
    Console.write(decimal: milliseconds)
    Console.write(" ms")
    Log.end()
  }
  static var longRequestMilliseconds: UInt64 { 20 }

  private func execute(_ request: Request, now: UInt64) -> Response {
    switch request {
    case .nodeInfo:
      return .nodeInfo(nodeInfo())
    case .transferBegin, .transferChunk, .transferEnd, .transferAbort:
      if case .transferBegin(let description) = request,
        let refusal = TransferCapacity.refusal(
          imageBytes: description.size, freeBytes: UInt64(PhysicalFrames.freeFrames) * 4096)
      {
        return .failure(refusal)
      }
      guard let (response, completed) = assembler.handle(request, now: now) else {
        return .failure(ControlFailure(.internalError))
      }
      // The store owns a completed image's frames from here on.
      if let completed { images.keep(completed.name, completed.storage) }
      return response
    case .powerOff:
      return .done
    case .createVM, .listVMs, .status, .pause, .unpause, .destroy, .consoleRead, .diskRead,
      .diskDigest, .memoryRead, .memoryWrite, .dirtyLog, .restoreState, .ioStatus:
      guard let vms else {
        return .failure(ControlFailure(.busy, text: "the node's VM manager is not up yet"))
      }
      return vms.execute(request, images: &images)
    }
  }

  /// Answers first (the answer must leave before the machine goes), then has the VM
  /// manager end every VM; it powers the node off once the last one is released (at once
  /// when there is none).
  private func powerOff(answering accepted: AcceptedRequest, to datagram: ReceivedDatagram) {
    let answer = receiver.respond(to: accepted, with: .done)
    _ = ManagementNetwork.node?.send(
      answer, from: Self.port, to: datagram.source, port: datagram.sourcePort)
    Log.info("control: power off requested")
    // Let the NIC put the answer on the wire (QEMU transmits from its own thread).
    let until = arch_rdtsc() &+ 50 &* max(LocalAPIC.tscPerMillisecond, 1)
    while arch_rdtsc() < until { arch_pause() }
    guard let vms else { Machine.halt(status: .success) }
    vms.powerOff()
  }

  private func nodeInfo() -> NodeInfo {
    let cores = max(topology.coreCount, 1)
    let packages = max(topology.packages.count, 1)
    let (total, free) = PhysicalFrames.lock.withLock {
      (PhysicalFrames.allocator.totalFrames, PhysicalFrames.allocator.freeFrames)
    }
    var version = BuildInfo.version.bytes
    if version.count > ProtocolLimits.maximumVersionLength {
      version = Array(version.prefix(ProtocolLimits.maximumVersionLength))
    }
    let machineChecks = MachineCheckSummary.collect()
    let problems = healthProblems(
      freeBytes: UInt64(free) * 4096, totalBytes: UInt64(total) * 4096,
      machineChecks: machineChecks)
    let now = MachineCheckPolling.millisecondsSinceBoot()
    history.observe(problemCount: problems.count, at: now)
    let entries = history.merged(
      with: machineChecks.recent, limit: ProtocolLimits.maximumHealthHistory
    ).compactMap { event in
      NodeInfo.HistoryEntry.Kind(rawValue: event.kind.rawValue).map {
        NodeInfo.HistoryEntry(
          millisecondsSinceBoot: event.millisecondsSinceBoot, kind: $0, subject: event.subject,
          value: event.value)
      }
    }
    return NodeInfo(
      version: version, backend: backend, health: problems.isEmpty ? .healthy : .degraded,
      cpuCount: UInt16(clamping: topology.count), packages: UInt16(clamping: packages),
      coresPerPackage: UInt16(clamping: cores / packages),
      threadsPerCore: UInt16(clamping: max(topology.count / cores, 1)),
      totalMemory: UInt64(total) * 4096, freeMemory: UInt64(free) * 4096,
      vmCount: UInt16(clamping: vms?.vmCount ?? 0),
      uptimeMilliseconds: arch_rdtsc() / max(LocalAPIC.tscPerMillisecond, 1),
      counters: receiver.counters, problems: problems,
      correctedMachineChecks: machineChecks.corrected,
      uncorrectedMachineChecks: machineChecks.uncorrected, history: entries)
  }

  /// The node's health by the rule of NodeHealth (docs/lifecycle.md, "Node health"): each
  /// CPU's heartbeat, free memory, VMs ended by a fault.
  private func healthProblems(
    freeBytes: UInt64, totalBytes: UInt64, machineChecks: MachineCheckSummary
  ) -> [NodeInfo.HealthProblem] {
    let now = arch_rdtsc()
    let perMillisecond = max(LocalAPIC.tscPerMillisecond, 1)
    let here = CPUs.current.index
    let beats = CPUs.all.map { cpu in
      // 0: not in its scheduler loop yet (still starting): not judged. Nor is this CPU,
      // which is answering (one loop pass may have run a long create before this request).
      let beat = cpu.heartbeat.load(ordering: .relaxed)
      let judged = beat != 0 && beat <= now && cpu.index != here
      return CPUHeartbeat(
        ageMilliseconds: judged ? (now - beat) / perMillisecond : 0,
        busyElsewhere: cpu.currentActivity != .busy)
    }
    let found = NodeHealth.problems(
      heartbeats: beats, freeBytes: freeBytes, totalBytes: totalBytes,
      failedVMs: vms?.failedVMCount ?? 0, machineChecks: machineChecks.recent,
      uncorrectedMachineChecks: machineChecks.uncorrected,
      now: MachineCheckPolling.millisecondsSinceBoot())
    return found.prefix(ProtocolLimits.maximumHealthProblems).map { problem in
      switch problem {
      case .cpuStalled(let cpu, let milliseconds):
        NodeInfo.HealthProblem(.cpuStalled, subject: UInt16(clamping: cpu), value: milliseconds)
      case .lowMemory(let free): NodeInfo.HealthProblem(.lowMemory, value: free)
      case .failedVMs(let count): NodeInfo.HealthProblem(.failedVMs, value: UInt64(count))
      case .correctedMachineChecks(let bank, let count):
        NodeInfo.HealthProblem(
          .correctedMachineChecks, subject: UInt16(clamping: bank), value: count)
      case .uncorrectedMachineChecks(let count):
        NodeInfo.HealthProblem(.uncorrectedMachineChecks, value: count)
      }
    }
  }
}
