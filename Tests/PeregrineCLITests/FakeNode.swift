import Foundation

@testable import PeregrineCommands

/// A node in memory: VMs by name, answers as the real node would, and a log of requests.
final class FakeNode: NodeConnection {
  var report: NodeReport
  var machines: [MachineSummary] = []
  var statuses: [String: MachineStatus] = [:]
  var console: [UInt8] = []
  var consoleEndsAt: Int? = nil
  /// VMs gone from the list whose console the node still keeps.
  var endedMachines: Set<String> = []
  var requests: [String] = []
  var receivedFiles: [String: Int] = [:]
  /// Thrown by every request when set.
  var failure: NodeError?
  /// Thrown by createMachine after half of the bytes.
  var cutTransfer = false
  /// Thrown by createMachine only (the node refuses the VM; other requests work).
  var createFailure: NodeError?
  /// Thrown by destroyMachine only.
  var destroyFailure: NodeError?
  /// VMs' disks as the node holds them (a VM that ended keeps its disk here until destroyed).
  var disks: [String: [UInt8]] = [:]
  /// Disk reads refused as "pause the VM first" before one is served (a pause still in
  /// progress: vCPUs not yet parked).
  var readsBeforePaused = 0
  /// Checkpoint and restore (CheckpointCommandTests): each VM's saved state and memory as
  /// the node would send them, and what a restore wrote and restored.
  var savedStates: [String: [UInt8]] = [:]
  var memories: [String: SparseImage] = [:]
  var writtenMemory: [String: [(offset: UInt64, bytes: [UInt8])]] = [:]
  var restoredStates: [String: [UInt8]] = [:]

  init(freeMemory: UInt64 = 512 << 20, machines: [MachineSummary] = []) {
    report = NodeReport(
      cpuCount: 2, topology: "1 package, 2 cores, 1 thread per core", totalMemory: 1 << 30,
      freeMemory: freeMemory,
      machines: machines.map(\.name), health: "ok", uptimeSeconds: 75, version: "0.11+test",
      refusedRequests: 3)
    self.machines = machines
  }

  /// Thrown by the requests whose log line starts with the key (e.g. "restore"), each time.
  var failOn: [String: NodeError] = [:]

  func check(_ request: String) throws {
    requests.append(request)
    if let failure { throw failure }
    if let (_, error) = failOn.first(where: { request.hasPrefix($0.key) }) { throw error }
  }

  func describeNode() throws -> NodeReport {
    try check("describe")
    report.machines = machines.map(\.name)
    return report
  }

  func listMachines() throws -> [MachineSummary] {
    try check("list")
    return machines
  }

  func machineStatus(named name: String, includingState: Bool) throws -> MachineStatus {
    try check("status \(name)\(includingState ? " state" : "")")
    guard let machine = machines.first(where: { $0.name == name }) else {
      throw NodeError.noSuchMachine(name)
    }
    var status =
      statuses[name]
      ?? MachineStatus(
        summary: machine, vcpus: [VCPUStatus(index: 0, cpu: 1, state: "running")],
        exits: [ExitCount(reason: "io", count: 1200), ExitCount(reason: "cpuid", count: 34)],
        refusedMSRs: [RefusedMSR(msr: 0xC001_0114, write: true, count: 2)])
    status.summary = machine
    if includingState {
      status.savedState = [
        StateSection(
          title: "vcpu 0",
          fields: [
            StateField(name: "rip", value: 0xFFFF_FFFF_8100_0000),
            StateField(name: "cs", value: 0x10, width: 16),
          ]),
        StateSection(title: "serial", fields: [StateField(name: "ier", value: 1, width: 8)]),
      ]
    }
    return status
  }

  func createMachine(_ request: CreateRequest, progress: (TransferProgress) -> Void) throws
    -> MachineSummary
  {
    try check("create \(request.profile.name)")
    if let createFailure { throw createFailure }
    guard !machines.contains(where: { $0.name == request.profile.name }) else {
      throw NodeError.refused(node: "fake", reason: "name in use")
    }
    let total = request.totalBytes
    var sent: UInt64 = 0
    for file in request.files {
      for chunk in stride(from: 0, to: file.contents.count, by: 1024) {
        let size = min(1024, file.contents.count - chunk)
        sent += UInt64(size)
        progress(
          TransferProgress(
            file: URL(fileURLWithPath: file.path).lastPathComponent, sentBytes: sent,
            totalBytes: total))
        if cutTransfer && sent * 2 >= total {
          throw NodeError.transferCutOff(
            node: "fake", file: file.path, sentBytes: sent, totalBytes: total)
        }
      }
      receivedFiles[file.role] = file.contents.count
    }
    var machine = MachineSummary(
      name: request.profile.name, state: .running, vcpus: request.profile.vcpus,
      memory: request.profile.memoryBytes, uptimeSeconds: 0)
    if let disk = request.files.first(where: { $0.role == "disk" }) {
      // As the real connection counts: 1 KiB chunks, those of zeros left out.
      let bytes = [UInt8](disk.contents)
      var counts = DiskTransferCounts(sentChunks: 0, skippedChunks: 0)
      for chunk in stride(from: 0, to: bytes.count, by: 1024) {
        if bytes[chunk..<min(bytes.count, chunk + 1024)].allSatisfy({ $0 == 0 }) {
          counts.skippedChunks += 1
        } else {
          counts.sentChunks += 1
        }
      }
      machine.diskTransfer = counts
      disks[request.profile.name] = bytes
    }
    machines.append(machine)
    report.freeMemory -= request.profile.memoryBytes
    return machine
  }

  func setState(_ name: String, _ state: MachineState) throws {
    guard let index = machines.firstIndex(where: { $0.name == name }) else {
      throw NodeError.noSuchMachine(name)
    }
    machines[index].state = state
  }

  func pauseMachine(named name: String) throws {
    try check("pause \(name)")
    try setState(name, .paused)
  }

  func unpauseMachine(named name: String) throws {
    try check("unpause \(name)")
    try setState(name, .running)
  }

  func destroyMachine(named name: String) throws {
    try check("destroy \(name)")
    if let destroyFailure { throw destroyFailure }
    guard let index = machines.firstIndex(where: { $0.name == name }) else {
      // An ended VM's kept disk goes with its destroy.
      if disks.removeValue(forKey: name) != nil { return }
      throw NodeError.noSuchMachine(name)
    }
    report.freeMemory += machines[index].memory
    machines.remove(at: index)
    disks[name] = nil
  }

  /// The VM ends by itself: gone from the list, its disk kept.
  func end(_ name: String) {
    machines.removeAll { $0.name == name }
  }

  func readDisk(of name: String, progress: (TransferProgress) -> Void) throws -> DiskContents {
    try check("read disk \(name)")
    if readsBeforePaused > 0 {
      readsBeforePaused -= 1
      throw NodeError.refused(
        node: "fake", reason: "pause the VM first: its disk is read only while no vCPU runs")
    }
    if let machine = machines.first(where: { $0.name == name }), machine.state != .paused {
      throw NodeError.refused(
        node: "fake", reason: "pause the VM first: its disk is read only while no vCPU runs")
    }
    guard let disk = disks[name] else {
      if machines.contains(where: { $0.name == name }) {
        throw NodeError.refused(node: "fake", reason: "the VM has no disk")
      }
      throw NodeError.noSuchMachine(name)
    }
    progress(
      TransferProgress(file: name, sentBytes: UInt64(disk.count), totalBytes: UInt64(disk.count)))
    return DiskContents(image: disk, requests: 1, dataChunks: 1)
  }

  func readConsole(of name: String, from offset: UInt64) throws -> ConsoleChunk {
    try check("console \(name) \(offset)")
    guard machines.contains(where: { $0.name == name }) || endedMachines.contains(name) else {
      throw NodeError.noSuchMachine(name)
    }
    // Hands out at most 5 bytes a call, so the command has to loop.
    let start = Int(offset)
    let end = min(console.count, start + 5)
    let ended = consoleEndsAt.map { end >= $0 } ?? false
    return ConsoleChunk(bytes: Array(console[start..<end]), nextOffset: UInt64(end), ended: ended)
  }
}

struct FakeConnector: NodeConnector {
  var nodes: [String: FakeNode]
  func connect(to node: NodeEndpoint, key: ClusterKey) throws -> NodeConnection {
    guard let fake = nodes[node.name] else {
      throw NodeError.unreachable(node: node.name, waitedSeconds: 2)
    }
    return fake
  }
}

/// A CLI run: the environment with captured output, a state directory of its own and fake
/// nodes (recorded as running emulators).
final class Harness {
  var environment: CLIEnvironment
  var output = ""
  var errors = ""
  var consoleBytes: [UInt8] = []
  let directory: URL
  var nodes: [String: FakeNode]
  /// pids the fake launcher treats as running.
  var running: Set<Int32> = []
  var spawned: [(program: String, arguments: [String])] = []
  var stopped: [Int32] = []
  var grubConfigurations: [String] = []
  var interruptAfterSleeps: Int? = nil
  var sleeps = 0
  var clock = Date(timeIntervalSince1970: 1_000_000)
  /// The fake host's network links (`ip` as the fake launcher runs it), each with its bridge
  /// ("" when on none).
  var links: [String: String] = [:]
  var ipCalls: [[String]] = []
  var netAdmin = true
  /// Commands sent to QEMU monitors (`node inject-mce`), and what the fake monitor answers.
  var monitorCalls: [(socket: String, commands: [String])] = []
  var monitorAnswer = ""

  init(nodes: [String: FakeNode] = [:], recordNodes: Bool = true) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "peregrine-cli-\(UUID().uuidString)")
    self.nodes = nodes
    environment = CLIEnvironment.standard()
    environment.state = ClusterState(directory: directory)
    environment.connector = FakeConnector(nodes: nodes)
    environment.errorsIsTerminal = false
    environment.output = { [unowned self] in self.output += $0 }
    environment.errors = { [unowned self] in self.errors += $0 }
    environment.console = { [unowned self] in self.consoleBytes += $0 }
    environment.now = { [unowned self] in self.clock }
    environment.sleep = { [unowned self] seconds in
      self.sleeps += 1
      self.clock = self.clock.addingTimeInterval(seconds)
    }
    environment.interrupted = { [unowned self] in
      self.interruptAfterSleeps.map { self.sleeps >= $0 } ?? false
    }
    environment.launcher = NodeLauncher(
      spawn: { [unowned self] program, arguments, _ in
        self.spawned.append((program, arguments))
        let pid = Int32(1000 + self.spawned.count)
        self.running.insert(pid)
        return pid
      },
      isRunning: { [unowned self] pid, _ in self.running.contains(pid) },
      stop: { [unowned self] pid, _, _ in
        self.stopped.append(pid)
        self.running.remove(pid)
      },
      makeISO: { [unowned self] root, output in
        self.grubConfigurations.append(
          try String(contentsOfFile: root + "/boot/grub/grub.cfg", encoding: .utf8))
        _ = FileManager.default.createFile(atPath: output, contents: Data("iso".utf8))
      },
      portIsFree: { $0 != NodeBoot.firstHostPort + 1 },
      findProgram: { "/usr/bin/" + $0 },
      runIP: { [unowned self] arguments in self.fakeIP(arguments) },
      hasNetAdmin: { [unowned self] in self.netAdmin },
      monitor: { [unowned self] socket, commands in
        self.monitorCalls.append((socket, commands))
        return commands.map { _ in self.monitorAnswer }
      })
    if recordNodes && !nodes.isEmpty {
      _ = try environment.state.keyCreatingIfNeeded()
      var records: [NodeRecord] = []
      for (index, name) in nodes.keys.sorted().enumerated() {
        let pid = Int32(500 + index)
        running.insert(pid)
        records.append(
          NodeRecord(
            name: name, backend: .svm, pid: pid, hostPort: NodeBoot.firstHostPort + UInt16(index),
            address: NodeBoot.address,
            iso: directory.path + "/nodes/\(name)/boot.iso",
            log: directory.path + "/nodes/\(name)/serial.log", startedAt: clock))
      }
      try environment.state.writeNodes(NodeTable(nodes: records))
    }
  }

  deinit { try? FileManager.default.removeItem(at: directory) }

  /// The few `ip` commands the bridge mode runs, on `links`.
  func fakeIP(_ arguments: [String]) -> (status: Int32, output: String) {
    ipCalls.append(arguments)
    switch arguments.prefix(3) {
    case ["link", "show", "dev"]:
      return (links[arguments[3]] != nil ? 0 : 1, "")
    case ["link", "add", "name"], ["tuntap", "add", "dev"]:
      links[arguments[3]] = ""
      return (0, "")
    case ["link", "del", "dev"]:
      return (links.removeValue(forKey: arguments[3]) != nil ? 0 : 1, "")
    case ["link", "set", "dev"] where arguments.count > 5 && arguments[4] == "master":
      links[arguments[3]] = arguments[5]
      return (0, "")
    case ["-o", "link", "show"]:
      let ports = links.filter { $0.value == arguments[4] }.keys.sorted()
      return (
        0, ports.enumerated().map { "\($0.offset + 7): \($0.element): <UP> mtu 1500\n" }.joined()
      )
    default:
      return (0, "")
    }
  }

  /// Runs `peregrine ARGUMENTS`; the exit status.
  @discardableResult
  func run(_ arguments: String...) -> Int32 {
    output = ""
    errors = ""
    let saved = CLIEnvironment.current
    CLIEnvironment.current = environment
    defer { CLIEnvironment.current = saved }
    return PeregrineCommand.execute(arguments)
  }

  /// The last output as JSON.
  func json() throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
  }

  func writeFile(_ name: String, _ text: String) throws -> String {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent(name).path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }
}
