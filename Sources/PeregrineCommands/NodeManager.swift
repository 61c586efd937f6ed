import Foundation

/// `node up` and `node down`: the node table kept in step with the emulator processes.
/// Both are idempotent, and both trust a recorded pid only while it is still the emulator
/// started for that node (`NodeLauncher.isRunning`).
struct NodeManager {
  let environment: CLIEnvironment
  var state: ClusterState { environment.state }
  var launcher: NodeLauncher { environment.launcher }

  struct UpResult {
    var keyCreated: Bool
    var started: [NodeRecord]
    var kept: [NodeRecord]
    /// Nodes the table listed whose emulator had gone (started again).
    var restarted: [String]
    /// The table afterwards.
    var nodes: [NodeRecord]
    /// The bridge this run created (bridge mode), if it did.
    var bridgeCreated: String? = nil
  }

  /// "512M", "1G", "2048" (MiB) -> MiB; at least 64 MiB.
  static func mebibytes(_ text: String) -> Int? {
    let upper = text.uppercased()
    let (digits, factor): (Substring, Int) =
      upper.hasSuffix("G")
      ? (upper.dropLast(), 1024)
      : upper.hasSuffix("M") ? (upper.dropLast(), 1) : (Substring(upper), 1)
    guard let value = Int(digits), value > 0, value <= 1 << 20 else { return nil }
    let mib = value * factor
    return mib >= 64 ? mib : nil
  }

  /// build/peregrine.elf next to this program's build/bin, else under the current directory.
  static func defaultKernel() throws -> String {
    var candidates: [String] = []
    if let override = ProcessInfo.processInfo.environment["PEREGRINE_KERNEL"] {
      candidates.append(override)
    }
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    candidates.append(
      executable.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "peregrine.elf"
      ).path)
    candidates.append(FileManager.default.currentDirectoryPath + "/build/peregrine.elf")
    guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
      throw CLIError(
        .noInput, "no hypervisor kernel found (looked at \(candidates.joined(separator: ", ")))",
        hint: "build it with `make kernel`, or name it with --kernel PATH")
    }
    return found
  }

  func up(
    count: Int, backend: Backend, kernel: String, memoryMiB: Int, cpus: Int,
    network: NodeNetwork = .user, kernelArgs: String = ""
  ) throws -> UpResult {
    let bridge = HostBridge(launcher: launcher)
    if network == .bridge {
      guard backend == .svm else {
        throw CLIError(
          .usage, "--network bridge is for svm nodes (QEMU taps); vmx nodes run Bochs on slirp",
          hint: "use `--network user` with --backend vmx")
      }
      try bridge.checkPrivileges()
    }
    let emulator = backend == .svm ? "qemu-system-x86_64" : "bochs"
    guard let program = launcher.findProgram(emulator) else {
      throw CLIError(
        .failure, "\(emulator) is not installed, so no \(backend.rawValue) node can start",
        hint: "run scripts/install-deps.sh (or `make deps`)")
    }
    guard FileManager.default.fileExists(atPath: kernel) else {
      throw CLIError(
        .noInput, "no hypervisor kernel at \(kernel)", hint: "build it with `make kernel`")
    }
    let (key, keyCreated) = try state.keyCreatingIfNeeded()
    var table = try state.readNodes()
    if let other = table.nodes.first(where: {
      $0.backend != backend && launcher.isRunning($0.pid, $0.marker)
    }) {
      throw CLIError(
        .usage,
        "\(other.name) is up as a \(other.backend.rawValue) node; one cluster runs one backend",
        hint: "`peregrine node down` first, then `peregrine node up --backend \(backend.rawValue)`")
    }
    if let other = table.nodes.first(where: {
      ($0.network ?? .user) != network && launcher.isRunning($0.pid, $0.marker)
    }) {
      throw CLIError(
        .usage,
        "\(other.name) is up on the \((other.network ?? .user).rawValue) network; one cluster uses one network mode",
        hint: "`peregrine node down` first, then `peregrine node up --network \(network.rawValue)`")
    }
    var kept: [NodeRecord] = []
    var restarted: [String] = []
    var remaining: [NodeRecord] = []
    var staleTaps: [String] = []
    for node in table.nodes {
      if launcher.isRunning(node.pid, node.marker) {
        kept.append(node)
        remaining.append(node)
        continue
      }
      if Self.index(of: node.name).map({ $0 < count }) == true {
        restarted.append(node.name)
      }
      if let tap = node.tapMade { staleTaps.append(tap) }
    }
    // A dead node's tap goes with it (made again if the node starts again).
    if !staleTaps.isEmpty { _ = try bridge.tearDown(taps: staleTaps, bridgeMade: false) }
    table.nodes = remaining
    try state.writeNodes(table)

    var bridgeCreated: String?
    let toStart = (0..<count).filter { index in !kept.contains { $0.name == "node\(index)" } }
    if network == .bridge, !toStart.isEmpty, try bridge.ensureBridge() {
      bridgeCreated = BridgeNetwork.bridgeName
      table.bridgeMade = BridgeNetwork.bridgeName
      try state.writeNodes(table)  // recorded at once, so `node down` deletes it
    }

    var started: [NodeRecord] = []
    var usedPorts = Set(kept.map(\.hostPort))
    for index in toStart {
      let node: NodeRecord
      switch network {
      case .user:
        let port = try freePort(from: NodeBoot.firstHostPort + UInt16(index), excluding: usedPorts)
        usedPorts.insert(port)
        node = try start(
          index: index, backend: backend, program: program, kernel: kernel, key: key,
          attachment: .user(hostPort: port), memoryMiB: memoryMiB, cpus: cpus,
          kernelArgs: kernelArgs)
      case .bridge:
        let tap = BridgeNetwork.tapName(forNode: index)
        let made = try bridge.ensureTap(tap)
        do {
          node = try start(
            index: index, backend: backend, program: program, kernel: kernel, key: key,
            attachment: .tap(name: tap), memoryMiB: memoryMiB, cpus: cpus,
            kernelArgs: kernelArgs, tapMade: made ? tap : nil)
        } catch {
          if made { _ = try? bridge.tearDown(taps: [tap], bridgeMade: false) }
          throw error
        }
      }
      started.append(node)
      table.nodes.append(node)
      table.nodes.sort { (Self.index(of: $0.name) ?? 0) < (Self.index(of: $1.name) ?? 0) }
      try state.writeNodes(table)  // recorded at once: a later failure leaves it stoppable
    }
    // An emulator that cannot start (a bad option, a missing ROM) exits at once.
    if !started.isEmpty { environment.sleep(0.5) }
    var position = 0
    var portRetries = 0
    while position < started.count {
      let node = started[position]
      let emulatorLog = URL(fileURLWithPath: node.log).deletingLastPathComponent()
        .appendingPathComponent("emulator.log").path
      let said = (try? String(contentsOfFile: emulatorLog, encoding: .utf8)) ?? ""
      // Bochs does not exit when its slirp cannot forward the port: it runs on, unreachable
      // ("could not set up host forwarding rule"; its log is new with each start, below).
      let lostPort =
        node.backend == .vmx && said.lowercased().contains("could not set up host forwarding")
      if launcher.isRunning(node.pid, node.marker) && !lostPort {
        position += 1
        continue
      }
      if lostPort { launcher.stop(node.pid, node.marker, 2) }
      // The port was free when it was picked, but another `node up` (another state
      // directory, another user) bound it before this emulator did: the next free one.
      if network == .user, portRetries < 5,
        said.contains("Could not set up host forwarding") || lostPort,
        let index = Self.index(of: node.name)
      {
        portRetries += 1
        let port = try freePort(from: node.hostPort &+ 1, excluding: usedPorts)
        usedPorts.insert(port)
        let again = try start(
          index: index, backend: backend, program: program, kernel: kernel, key: key,
          attachment: .user(hostPort: port), memoryMiB: memoryMiB, cpus: cpus,
          kernelArgs: kernelArgs)
        started[position] = again
        table.nodes = table.nodes.map { $0.name == again.name ? again : $0 }
        try state.writeNodes(table)
        environment.sleep(0.5)
        continue
      }
      let tail =
        (try? String(contentsOfFile: node.log, encoding: .utf8)).map { String($0.suffix(600)) }
        ?? ""
      throw CLIError(
        .failure,
        "\(node.name)'s emulator exited right after starting; the end of \(node.log):\n\(tail)\(said.isEmpty ? "" : "\nits emulator said: " + String(said.suffix(400)))",
        hint: "`peregrine node down` clears the table")
    }
    return UpResult(
      keyCreated: keyCreated, started: started, kept: kept, restarted: restarted,
      nodes: table.nodes, bridgeCreated: bridgeCreated)
  }

  static func index(of name: String) -> Int? {
    name.hasPrefix("node") ? Int(name.dropFirst(4)) : nil
  }

  func freePort(from first: UInt16, excluding used: Set<UInt16>) throws -> UInt16 {
    var port = first
    for _ in 0..<200 {
      if !used.contains(port) && launcher.portIsFree(port) { return port }
      port &+= 1
    }
    throw CLIError(.failure, "no free UDP port on 127.0.0.1 from \(first) to \(first &+ 199)")
  }

  func start(
    index: Int, backend: Backend, program: String, kernel: String, key: ClusterKey,
    attachment: NodeAttachment, memoryMiB: Int, cpus: Int, kernelArgs: String = "",
    tapMade: String? = nil
  ) throws -> NodeRecord {
    // Slirp: every node is 10.0.2.15 behind its forwarded port. Bridge: node K is
    // 10.0.3.(K+2), reached at its control port, the host (10.0.3.1) its gateway.
    let (network, address, gateway, host, port): (NodeNetwork, String, String, String?, UInt16)
    switch attachment {
    case .user(let hostPort):
      (network, address, gateway, host, port) = (
        .user, NodeBoot.address, NodeBoot.gateway, nil, hostPort
      )
    case .tap:
      (network, address, gateway, host, port) = (
        .bridge, BridgeNetwork.nodeAddress(forNode: index), BridgeNetwork.hostAddress,
        BridgeNetwork.nodeHost(forNode: index), NodeBoot.controlPort
      )
    }
    let name = "node\(index)"
    let directory = state.nodeDirectory(name)
    let files = FileManager.default
    try files.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let iso = directory.appendingPathComponent("boot.iso").path
    let log = directory.appendingPathComponent("serial.log").path
    let emulatorLog = directory.appendingPathComponent("emulator.log").path

    // The ISO's tree: boot/grub/grub.cfg with the key on the kernel's command line.
    let root = directory.appendingPathComponent("iso-root")
    try? files.removeItem(at: root)
    let boot = root.appendingPathComponent("boot")
    try files.createDirectory(
      at: boot.appendingPathComponent("grub"), withIntermediateDirectories: true)
    defer { try? files.removeItem(at: root) }
    try files.copyItem(atPath: kernel, toPath: boot.appendingPathComponent("peregrine.elf").path)
    let symbols = URL(fileURLWithPath: kernel).deletingPathExtension().appendingPathExtension("sym")
      .path
    let hasSymbols = files.fileExists(atPath: symbols)
    if hasSymbols {
      try files.copyItem(atPath: symbols, toPath: boot.appendingPathComponent("peregrine.sym").path)
    }
    let configuration = NodeBoot.grubConfiguration(
      commandLine: NodeBoot.commandLine(
        key: key, address: address, gateway: gateway, extra: kernelArgs),
      hasSymbols: hasSymbols)
    try Data(configuration.utf8).write(to: boot.appendingPathComponent("grub/grub.cfg"))
    try? files.removeItem(atPath: iso)
    try launcher.makeISO(root.path, iso)
    // The ISO holds the key: only the user may read it.
    try? files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: iso)
    _ = files.createFile(atPath: log, contents: nil, attributes: [.posixPermissions: 0o600])

    let arguments: [String]
    switch backend {
    case .svm:
      arguments =
        NodeBoot.qemuArguments(
          iso: iso, log: log, attachment: attachment, nodeIndex: index, memory: "\(memoryMiB)M",
          cpus: cpus, dataPort: NodeBoot.dataPort(for: key),
          monitor: NodeBoot.monitorSocket(nodeDirectory: directory.path))
        + NodeBoot.extraQEMUArguments(ProcessInfo.processInfo.environment)
    case .vmx:
      let slirp = directory.appendingPathComponent("slirp.conf").path
      let rc = directory.appendingPathComponent("bochsrc").path
      let cont = directory.appendingPathComponent("bochs.cont").path
      try Data(NodeBoot.slirpConfiguration(hostPort: port).utf8).write(
        to: URL(fileURLWithPath: slirp))
      try Data(
        NodeBoot.bochsConfiguration(
          iso: iso, log: log, slirpConfiguration: slirp, nodeIndex: index, memoryMiB: memoryMiB,
          cpus: cpus
        ).utf8
      ).write(to: URL(fileURLWithPath: rc))
      try Data("c\n".utf8).write(to: URL(fileURLWithPath: cont))  // the built-in debugger: continue
      arguments = ["-f", rc, "-q", "-rc", cont]
    }
    // A Bochs node's log is its own run's: `up` reads it for a lost port while it runs.
    if backend == .vmx { try? files.removeItem(atPath: emulatorLog) }
    let logged =
      (try? FileManager.default.attributesOfItem(atPath: emulatorLog)[.size] as? Int) ?? 0
    let pid = try launcher.spawn(program, arguments, emulatorLog)
    if backend == .vmx { drainBochsScreen(emulatorLog: emulatorLog, after: logged) }
    return NodeRecord(
      name: name, backend: backend, pid: pid, hostPort: port, address: address, iso: iso,
      log: log, startedAt: environment.now(), network: network,
      host: host, tapMade: tapMade)
  }

  struct WaitOutcome {
    var answered: [String] = []
    var waited = false
    var note: String?
  }

  /// Polls each new node until it answers `describeNode`, for at most `seconds`.
  func waitForAnswers(_ nodes: [NodeRecord], seconds: Double) throws -> WaitOutcome {
    var outcome = WaitOutcome()
    guard seconds > 0, !nodes.isEmpty else { return outcome }
    guard let key = try state.readKey() else { return outcome }
    let deadline = environment.now().addingTimeInterval(seconds)
    for node in nodes {
      while true {
        do {
          let connection = try environment.connector.connect(to: node.endpoint, key: key)
          _ = try connection.describeNode()
          outcome.answered.append(node.name)
          outcome.waited = true
          break
        } catch NodeError.notWired {
          outcome.note =
            "the nodes are booting; this build cannot ask them whether they are ready (no control-protocol client), so it did not wait"
          return outcome
        } catch NodeError.unreachable {
          outcome.waited = true
          guard environment.now() < deadline, launcher.isRunning(node.pid, node.marker),
            !environment.interrupted()
          else {
            throw CLIError(
              .unreachable,
              "\(node.name) did not answer within \(Formatting.seconds(seconds)) of starting",
              hint:
                "read its serial log, \(node.log); it keeps booting in the background (`peregrine nodes` asks again)"
                + (node.backend == .vmx
                  ? "; a VT-x node has Bochs' e1000 NIC and answers only if the node kernel drives it (docs/cli.md)"
                  : ""))
          }
          environment.sleep(1)
        } catch let error as NodeError {
          throw CLIError(error, stateDirectory: state.directory.path)
        }
      }
    }
    return outcome
  }

  func down() throws -> (stopped: [String], notRunning: [String], removedLinks: [String]) {
    let table = try state.readNodes()
    var stopped: [String] = []
    var notRunning: [String] = []
    for node in table.nodes {
      if launcher.isRunning(node.pid, node.marker) {
        launcher.stop(node.pid, node.marker, 5)
        stopped.append(node.name)
      } else {
        notRunning.append(node.name)
      }
    }
    // The taps, then the bridge, before the table forgets them: if `ip` fails here, the next
    // `node down` tries again.
    let taps = table.nodes.compactMap(\.tapMade)
    var removed: [String] = []
    var bridgeLeft: String?
    if !taps.isEmpty || table.bridgeMade != nil {
      removed = try HostBridge(launcher: launcher).tearDown(
        taps: taps, bridgeMade: table.bridgeMade != nil)
      // A bridge other ports still use stays, and stays ours to delete later.
      if let made = table.bridgeMade, !removed.contains(made),
        (try? HostBridge(launcher: launcher).exists(made)) == true
      {
        bridgeLeft = made
      }
    }
    if !table.nodes.isEmpty || table.bridgeMade != bridgeLeft {
      try state.writeNodes(NodeTable(nodes: [], bridgeMade: bridgeLeft))
    }
    // The nodes took their VMs with them: no cluster is left to destroy.
    try state.writeClusters(ClusterTable(clusters: []))
    // Nor any VM's disk (the store keeps what was saved).
    try DiskRecords().write(state)
    return (stopped, notRunning, removed)
  }
}
