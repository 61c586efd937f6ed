import ControlClient
import ControlProtocol
import Foundation
import PeregrineProfiles

/// The real connector: the control protocol over UDP (ControlClient), authenticated with
/// the cluster key (docs/control-protocol.md).
public struct ControlConnector: NodeConnector {
  public init() {}

  public func connect(to node: NodeEndpoint, key: ClusterKey) throws -> NodeConnection {
    do {
      return ControlConnection(
        node: node.name, client: try ControlClient(host: node.host, port: node.port, key: key.bytes)
      )
    } catch {
      throw NodeError.unreachable(node: node.name, waitedSeconds: 0)
    }
  }
}

/// One node through a `ControlClient`: each call is one request (or a few, for paged
/// answers and transfers), its failure mapped to a `NodeError`.
final class ControlConnection: NodeConnection {
  let node: String
  let client: ControlClient

  init(node: String, client: ControlClient) {
    self.node = node
    self.client = client
  }

  func describeNode() throws -> NodeReport {
    guard case .nodeInfo(let info) = try perform(.nodeInfo) else { throw unexpected("node info") }
    let names = try call { try client.listAllVMs() }.map {
      String(decoding: $0.name, as: UTF8.self)
    }
    let counters = info.counters
    func plural(_ count: UInt16, _ word: String) -> String {
      "\(count) \(word)\(count == 1 ? "" : "s")"
    }
    return NodeReport(
      cpuCount: Int(info.cpuCount),
      topology:
        "\(plural(info.packages, "package")), \(plural(info.coresPerPackage, "core")) per package, \(plural(info.threadsPerCore, "thread")) per core",
      totalMemory: info.totalMemory, freeMemory: info.freeMemory, machines: names,
      health: info.health == .healthy ? "healthy" : "degraded",
      healthProblems: info.problems.map(Self.describe),
      correctedMachineChecks: info.correctedMachineChecks,
      uncorrectedMachineChecks: info.uncorrectedMachineChecks,
      healthHistory: info.history.map(Self.describe),
      uptimeSeconds: Double(info.uptimeMilliseconds) / 1000,
      version: String(decoding: info.version, as: UTF8.self)
        + (info.backend == .svm ? " (AMD-V)" : " (VT-x)"),
      refusedRequests: counters.refusedUnauthenticated + counters.refusedMalformed
        + counters.refusedReplayed + counters.refusedStaleEpoch,
      backend: VendorCheck.backend(info.backend))
  }

  /// A listing asks every node (`ClusterSession.machinesByNode`): a node that is down is
  /// given up after 3.75 s (sends at 0, 0.25, 0.75, 1.75 and 2.75 s) rather than the 7.75 s
  /// of the other requests. A node answers a list between two slices of CPU 0.
  static let listingPatience = RetransmissionPolicy(
    initialTimeout: 250, maximumTimeout: 1000, maximumAttempts: 5)

  func listMachines() throws -> [MachineSummary] {
    try call { try client.listAllVMs(patience: Self.listingPatience) }.map {
      Self.summary($0, uptime: Double($0.uptimeMilliseconds) / 1000)
    }
  }

  /// A node's reason for being degraded, in words.
  static func describe(_ problem: NodeInfo.HealthProblem) -> String {
    switch problem.kind {
    case .cpuStalled:
      "CPU \(problem.subject) has not passed its scheduler loop for \(problem.value) ms"
    case .lowMemory: "only \(Formatting.bytes(problem.value)) of memory free"
    case .failedVMs:
      "\(problem.value) VM\(problem.value == 1 ? "" : "s") ended in failure since boot"
    case .correctedMachineChecks:
      "\(problem.value) corrected machine-check error\(problem.value == 1 ? "" : "s") in the last \(NodeInfo.HealthProblem.machineCheckWindowSeconds) s (bank \(problem.subject))"
    case .uncorrectedMachineChecks:
      "\(problem.value) uncorrected machine-check error\(problem.value == 1 ? "" : "s") since boot"
    }
  }

  /// One entry of a node's health history, in words.
  static func describe(_ entry: NodeInfo.HistoryEntry) -> HealthHistoryEntry {
    let cpu = entry.subject >> 8
    let bank = entry.subject & 0xFF
    let detail: String
    switch entry.kind {
    case .correctedMachineCheck:
      detail =
        "\(entry.value) corrected machine-check error\(entry.value == 1 ? "" : "s") on CPU \(cpu) bank \(bank)"
    case .uncorrectedMachineCheck:
      detail =
        "uncorrected machine-check error on CPU \(cpu) bank \(bank), status 0x\(String(entry.value, radix: 16))"
    case .becameDegraded:
      detail = "degraded (\(entry.value) problem\(entry.value == 1 ? "" : "s"))"
    case .becameHealthy: detail = "healthy again"
    }
    let machineCheck =
      entry.kind == .correctedMachineCheck || entry.kind == .uncorrectedMachineCheck
    return HealthHistoryEntry(
      secondsSinceBoot: Double(entry.millisecondsSinceBoot) / 1000, kind: "\(entry.kind)",
      detail: detail, cpu: machineCheck ? Int(cpu) : nil, bank: machineCheck ? Int(bank) : nil,
      count: entry.kind == .correctedMachineCheck ? entry.value : nil)
  }

  func machineStatus(named name: String, includingState: Bool) throws -> MachineStatus {
    let status: ControlProtocol.VMStatus
    var stateBytes: [UInt8]? = nil
    if includingState {
      let (answer, state) = try call(vm: name) { try client.statusWithState(of: Array(name.utf8)) }
      status = answer
      stateBytes = state
    } else {
      guard
        case .vmStatus(let answer) = try perform(
          .status(name: Array(name.utf8), includeState: false, stateOffset: 0), vm: name)
      else { throw unexpected("status") }
      status = answer
    }
    // The second page: the guest I/O counters, with the VM's exits at that moment.
    guard
      case .vmIOStatus(let io) = try perform(.ioStatus(name: Array(name.utf8)), vm: name)
    else { throw unexpected("status") }
    let vcpus = status.vcpuCPUs.enumerated().map { index, cpu in
      VCPUStatus(
        index: index, cpu: cpu == ControlProtocol.VMStatus.notOnACPU ? -1 : Int(cpu),
        state: cpu == ControlProtocol.VMStatus.notOnACPU ? "detached" : "on cpu \(cpu)")
    }
    return MachineStatus(
      summary: Self.summary(
        status.summary, uptime: Double(status.uptimeMilliseconds) / 1000),
      vcpus: vcpus,
      exits: status.exits.map {
        PeregrineCommands.ExitCount(
          reason: String(decoding: $0.reason, as: UTF8.self), count: $0.count)
      },
      refusedMSRs: status.refusedMSRs.map {
        PeregrineCommands.RefusedMSR(msr: $0.msr, write: false, count: $0.count)
      },
      savedState: try stateBytes.map { try savedState(of: $0, vm: name) },
      nics: io.nics.map {
        NICStatus(
          mac: $0.mac.map { String(format: "%02x", $0) }.joined(separator: ":"),
          sentFrames: $0.transmittedFrames, sentBytes: $0.transmittedBytes,
          receivedFrames: $0.receivedFrames, receivedBytes: $0.receivedBytes,
          copies: $0.copies, copiedBytes: $0.copiedBytes, notifications: $0.notifications,
          droppedFrames: $0.droppedFrames)
      },
      disk: io.disk.map {
        DiskStatus(
          reads: $0.reads, writes: $0.writes, flushes: $0.flushes,
          otherRequests: $0.otherRequests, bytesRead: $0.bytesRead,
          bytesWritten: $0.bytesWritten, ioErrors: $0.ioErrors,
          notifications: $0.notifications, queueFaults: $0.queueFaults)
      },
      ioExits: io.totalExits,
      passthrough: status.passthrough.map {
        String(format: "%04x:%02x:%02x.%x", $0.segment, $0.bus, $0.device, $0.function)
      })
  }

  func createMachine(_ request: CreateRequest, progress: (TransferProgress) -> Void) throws
    -> MachineSummary
  {
    let profile = request.profile
    var specification = try Self.specification(of: profile, node: node)
    if request.incoming {
      // Named as a create names it, but not sent: nothing is loaded.
      specification.incoming = true
      specification.kernelImage = Array("\(profile.name).kernel".utf8)
    }
    let total = request.totalBytes
    var before: UInt64 = 0
    var diskTransfer: DiskTransferCounts? = nil
    for upload in request.files {
      // Named after the VM: a second create of the same VM replaces the node's copy.
      let imageName = Array("\(profile.name).\(upload.role)".utf8)
      let bytes = [UInt8](upload.contents)
      let sentBefore = before
      // A disk is mostly zeros: its chunks of zeros stay home (the node's storage starts
      // zeroed; the SHA-256 still covers the whole image).
      let sparse = upload.role == "disk"
      do {
        _ = try client.transfer(bytes, as: imageName, sparse: sparse) { sent, _ in
          progress(
            TransferProgress(file: upload.path, sentBytes: sentBefore + sent, totalBytes: total))
        }
      } catch {
        if case .noAnswer = error {
          throw NodeError.transferCutOff(
            node: node, file: upload.path, sentBytes: before, totalBytes: total)
        }
        throw map(error, vm: nil)
      }
      before += UInt64(bytes.count)
      switch upload.role {
      case "initrd": specification.initrdImage = imageName
      case "disk":
        specification.diskImage = imageName
        diskTransfer = DiskTransferCounts(
          sentChunks: client.lastTransferCounts.sentChunks,
          skippedChunks: client.lastTransferCounts.skippedChunks)
      default: specification.kernelImage = imageName
      }
    }
    // The node builds the VM (its memory zeroed, the images copied) before it answers: a
    // 256 MiB Linux VM took more than the default 7.8 s of retransmissions on a loaded host.
    let building = RetransmissionPolicy(
      initialTimeout: client.policy.initialTimeout, maximumTimeout: 4000,
      maximumAttempts: client.policy.maximumAttempts + 6)
    guard
      case .created(let summary) = try call(
        vm: nil,
        {
          try client.perform(.createVM(specification), patience: building)
        })
    else {
      throw unexpected("create")
    }
    var created = Self.summary(summary, uptime: Double(summary.uptimeMilliseconds) / 1000)
    created.diskTransfer = diskTransfer
    return created
  }

  func readDisk(of name: String, progress: (TransferProgress) -> Void) throws -> DiskContents {
    let read = try call(vm: name) {
      try client.readDisk(of: Array(name.utf8)) { done, total in
        progress(TransferProgress(file: "\(name) disk", sentBytes: done, totalBytes: total))
      }
    }
    return DiskContents(image: read.image, requests: read.requests, dataChunks: read.dataChunks)
  }

  func pauseMachine(named name: String) throws {
    _ = try perform(.pause(name: Array(name.utf8)), vm: name)
  }

  func unpauseMachine(named name: String) throws {
    _ = try perform(.unpause(name: Array(name.utf8)), vm: name)
  }

  func destroyMachine(named name: String) throws {
    _ = try perform(.destroy(name: Array(name.utf8)), vm: name)
  }

  func readConsole(of name: String, from offset: UInt64) throws -> ConsoleChunk {
    let request = Request.consoleRead(
      name: Array(name.utf8), offset: offset,
      maximumLength: UInt16(ProtocolLimits.maximumConsoleBytes))
    guard case .console(let output) = try perform(request, vm: name) else {
      throw unexpected("console read")
    }
    return ConsoleChunk(
      bytes: output.bytes, nextOffset: output.offset + UInt64(output.bytes.count),
      droppedBytes: output.offset > offset ? output.offset - offset : 0,
      ended: output.ended && output.offset + UInt64(output.bytes.count) >= output.written)
  }

  // MARK: Mapping

  /// The protocol's VM fields from a validated profile; what the node cannot run yet is
  /// refused here, before anything is sent.
  static func specification(of profile: MachineProfile, node: String) throws -> VMSpecification {
    var specification = VMSpecification(
      name: Array(profile.name.utf8), kind: .flat, memorySize: profile.memoryBytes,
      vcpuCount: UInt16(clamping: profile.vcpus), kernelImage: [])
    switch profile.boot {
    case .linux(_, _, let commandLine):
      specification.kind = .linux
      specification.commandLine = Array(commandLine.utf8)
    case .flat(_, let loadAddress, let segment, let offset):
      // Where it loads and starts, in the boot-time profile's words (the node checks them).
      specification.commandLine = Array(
        "load=0x\(String(loadAddress, radix: 16)) entry=\(hex4(segment)):\(hex4(offset))".utf8)
    }
    switch profile.scheduling.mode {
    case .shared: specification.scheduling = .shared
    case .pinned:
      specification.scheduling = .pinned
      specification.pinnedCPUs = (profile.scheduling.pinnedCPUs ?? []).map {
        UInt16(clamping: $0)
      }
    case .gang: specification.scheduling = .gang
    }
    specification.nics = profile.nics.map { $0.mac.octets }
    specification.passthrough = profile.passthrough.map {
      PCIFunctionID(segment: $0.segment, bus: $0.bus, device: $0.device, function: $0.function)
    }
    return specification
  }

  static func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
  }

  static func summary(_ summary: VMSummary, uptime: Double) -> MachineSummary {
    let state: MachineState
    switch summary.state {
    case .starting: state = .starting
    case .running: state = .running
    case .pausing, .paused: state = .paused
    case .ended, .failed: state = .ended
    case .incoming: state = .incoming
    }
    return MachineSummary(
      name: String(decoding: summary.name, as: UTF8.self), state: state,
      vcpus: Int(summary.vcpuCount), memory: summary.memorySize, uptimeSeconds: uptime)
  }

  /// The saved state as the node sends it, decoded with the kernel's decoder: bytes that
  /// are not a VM's saved state are an error that says so.
  private func savedState(of bytes: [UInt8], vm: String) throws -> [StateSection] {
    do {
      return try SavedStateSections.sections(of: bytes)
    } catch {
      throw NodeError.protocolMismatch(
        node: node,
        detail:
          "the saved state of VM \(vm) (\(bytes.count) bytes) is corrupt: \(SavedStateSections.describe(error))"
      )
    }
  }

  private func perform(_ request: Request, vm: String? = nil) throws -> Response {
    try call(vm: vm) { try client.perform(request) }
  }

  func call<T>(vm: String? = nil, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as ControlClientError {
      throw map(error, vm: vm)
    }
  }

  private func map(_ error: ControlClientError, vm: String?) -> NodeError {
    switch error {
    case .noAnswer(let noAnswer, _, _):
      return .unreachable(node: node, waitedSeconds: Double(noAnswer.waitedMilliseconds) / 1000)
    case .unresolvedHost, .socket:
      return .unreachable(node: node, waitedSeconds: 0)
    case .refused(let failure):
      switch failure.code {
      case .unknownVM: return .noSuchMachine(vm ?? String(decoding: failure.detail, as: UTF8.self))
      case .replayed, .staleEpoch: return .authenticationRefused(node: node)
      case .malformed: return .protocolMismatch(node: node, detail: error.description)
      default: return .refused(node: node, reason: error.description)
      }
    case .answerLost, .resynchronizationFailed:
      return .refused(node: node, reason: error.description)
    case .encoding:
      return .refused(node: node, reason: error.description)
    case .unreadableFile(let path):
      return .refused(node: node, reason: "cannot read \(path)")
    }
  }

  private func unexpected(_ what: String) -> NodeError {
    .protocolMismatch(node: node, detail: "an answer that does not fit a \(what) request")
  }
}
