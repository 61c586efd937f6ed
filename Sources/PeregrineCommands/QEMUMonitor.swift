import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A client of QEMU's human monitor on a unix socket (`-monitor unix:PATH,server=on`):
/// sends commands one by one, each answered when the prompt "(qemu) " comes back.
public enum QEMUMonitor {
  public enum Failure: Error, Equatable {
    case cannotConnect(String)
    case closed
    case timedOut
  }

  static let prompt = Array("(qemu) ".utf8)

  /// Runs `commands` and returns what the monitor printed for each (prompt and echo removed).
  public static func run(socket path: String, commands: [String], timeoutSeconds: Double = 5)
    throws -> [String]
  {
    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw Failure.cannotConnect("socket: errno \(errno)") }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw Failure.cannotConnect("\(path): path too long for a unix socket")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      throw Failure.cannotConnect("\(path): \(String(cString: strerror(errno)))")
    }
    var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: 0)
    setsockopt(
      descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = try readUntilPrompt(descriptor)  // the banner
    var answers: [String] = []
    for command in commands {
      let line = Array((command + "\n").utf8)
      let sent = line.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
      guard sent == line.count else { throw Failure.closed }
      answers.append(clean(try readUntilPrompt(descriptor), command: command))
    }
    return answers
  }

  private static func readUntilPrompt(_ descriptor: Int32) throws -> [UInt8] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !(received.count >= prompt.count && Array(received.suffix(prompt.count)) == prompt) {
      let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
      if count == 0 { throw Failure.closed }
      if count < 0 { throw errno == EAGAIN || errno == EWOULDBLOCK ? Failure.timedOut : .closed }
      received += buffer[0..<count]
    }
    return Array(received.dropLast(prompt.count))
  }

  /// The monitor echoes the command (with terminal escapes): keep the lines after it.
  static func clean(_ output: [UInt8], command: String) -> String {
    let text = String(decoding: output.filter { $0 != 0x0D }, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let echo = lines.lastIndex { $0.contains(command) }
    let rest = echo.map { lines[($0 + 1)...] } ?? lines[...]
    return rest.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// QEMU's `mce` command (hmp-commands.hx, x86 only):
  /// `mce [-b] cpu bank status mcgstatus addr misc`.
  public static func mceCommand(
    cpu: Int, bank: Int, status: UInt64, mcgStatus: UInt64 = 0, address: UInt64 = 0,
    misc: UInt64 = 0
  ) -> String {
    func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    return "mce \(cpu) \(bank) \(hex(status)) \(hex(mcgStatus)) \(hex(address)) \(hex(misc))"
  }
}
