import Foundation

/// Starting and stopping emulator processes, behind closures so `node up`/`node down` logic
/// is tested without emulators.
public struct NodeLauncher {
  /// Starts `executable` with `arguments` in its own session (so it outlives the CLI and
  /// Ctrl-C in the terminal), standard input from /dev/null, standard output and error to
  /// `output`. Returns its pid.
  public var spawn: (_ executable: String, _ arguments: [String], _ output: String) throws -> Int32
  /// Whether `pid` is alive and still the emulator started for `marker` (its ISO path is
  /// on the command line): a pid reused by another program is not ours.
  public var isRunning: (_ pid: Int32, _ marker: String) -> Bool
  /// SIGTERM, then SIGKILL after `grace` seconds if it is still there.
  public var stop: (_ pid: Int32, _ marker: String, _ grace: Double) -> Void
  /// Packs a GRUB ISO of `root` (a directory with boot/grub/grub.cfg) into `output`.
  public var makeISO: (_ root: String, _ output: String) throws -> Void
  public var portIsFree: (UInt16) -> Bool
  /// The full path of a program on PATH, or nil.
  public var findProgram: (String) -> String?
  /// Runs `ip ARGUMENTS` (iproute2) to its end: its exit status and its output and errors.
  public var runIP: (_ arguments: [String]) throws -> (status: Int32, output: String)
  /// Whether this process holds CAP_NET_ADMIN (the bridge mode needs it).
  public var hasNetAdmin: () -> Bool
  /// Runs commands on a QEMU monitor socket (QEMUMonitor.run): what each printed.
  public var monitor: (_ socket: String, _ commands: [String]) throws -> [String]

  public init(
    spawn: @escaping (String, [String], String) throws -> Int32 = Processes.spawn,
    isRunning: @escaping (Int32, String) -> Bool = Processes.isRunning,
    stop: @escaping (Int32, String, Double) -> Void = Processes.stop,
    makeISO: @escaping (String, String) throws -> Void = Processes.makeISO,
    portIsFree: @escaping (UInt16) -> Bool = Processes.udpPortIsFree,
    findProgram: @escaping (String) -> String? = Processes.find,
    runIP: @escaping ([String]) throws -> (status: Int32, output: String) = Processes.runIP,
    hasNetAdmin: @escaping () -> Bool = Processes.hasNetAdmin,
    monitor: @escaping (String, [String]) throws -> [String] = {
      try QEMUMonitor.run(socket: $0, commands: $1)
    }
  ) {
    self.monitor = monitor
    self.spawn = spawn
    self.isRunning = isRunning
    self.stop = stop
    self.makeISO = makeISO
    self.portIsFree = portIsFree
    self.findProgram = findProgram
    self.runIP = runIP
    self.hasNetAdmin = hasNetAdmin
  }
}

/// The real process operations (Linux).
public enum Processes {
  public static func spawn(_ executable: String, _ arguments: [String], _ output: String) throws
    -> Int32
  {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // POSIX_SPAWN_SETSID (glibc 2.26, 0x80; not exported to Swift): a session of its own,
    // so the terminal's SIGINT and SIGHUP do not reach the node.
    posix_spawnattr_setflags(&attributes, 0x80)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard status == 0 else {
      throw CLIError(.failure, "cannot start \(executable): \(String(cString: strerror(status)))")
    }
    return pid
  }

  public static func isRunning(_ pid: Int32, _ marker: String) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    // A zombie (a child of this very process that has exited) is not running.
    if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z"
    {
      return false
    }
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
      return false
    }
    return String(decoding: data, as: UTF8.self).contains(marker)
  }

  public static func stop(_ pid: Int32, _ marker: String, _ grace: Double) {
    guard isRunning(pid, marker) else { return }
    kill(pid, SIGTERM)
    let deadline = Date().addingTimeInterval(grace)
    while Date() < deadline {
      var status: Int32 = 0
      _ = waitpid(pid, &status, WNOHANG)  // reaps it if it is our own child
      if !isRunning(pid, marker) { return }
      usleep(50_000)
    }
    kill(pid, SIGKILL)
    var status: Int32 = 0
    _ = waitpid(pid, &status, WNOHANG)
  }

  public static func makeISO(_ root: String, _ output: String) throws {
    guard let program = find("grub-mkrescue") else {
      throw CLIError(
        .failure, "grub-mkrescue is not installed",
        hint: "run scripts/install-deps.sh (or `make deps`)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = ["-o", output, root]
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw CLIError(
        .failure, "grub-mkrescue failed: \(String(decoding: message, as: UTF8.self).suffix(400))")
    }
  }

  public static func runIP(_ arguments: [String]) throws -> (status: Int32, output: String) {
    // /usr/sbin is not on every user's PATH.
    let fallback = ["/usr/sbin/ip", "/sbin/ip"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    guard let program = find("ip") ?? fallback else {
      throw CLIError(
        .failure, "`ip` (iproute2) is not installed, so the bridge cannot be set up",
        hint: "install iproute2, or use `--network user`")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let output = Pipe()
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  public static func hasNetAdmin() -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return false
    }
    return BridgeNetwork.hasNetAdmin(procStatus: status)
  }

  /// Whether a UDP socket can bind 127.0.0.1:`port` now.
  public static func udpPortIsFree(_ port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    return result == 0
  }

  public static func find(_ program: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
      let candidate = "\(directory)/\(program)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }
}
