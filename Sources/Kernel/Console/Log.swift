/// Log levels for the console. The threshold comes from the command line
/// (`loglevel=error|warning|info|debug`); a message below it costs one comparison.
enum LogLevel: UInt8, Comparable {
  case error = 0
  case warning, info, debug

  static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

  var tag: StaticString {
    switch self {
    case .error: return "[error] "
    case .warning: return "[warn ] "
    case .info: return "[info ] "
    case .debug: return "[debug] "
    }
  }
}

enum Log {
  static var threshold = LogLevel.info

  static func enabled(_ level: LogLevel) -> Bool { level <= threshold }

  /// Starts a line at `level`; the caller writes the rest with Console and ends it with
  /// `Log.end()`. Returns false (and writes nothing) when the level is filtered out.
  @discardableResult
  static func begin(_ level: LogLevel) -> Bool {
    guard enabled(level) else { return false }
    ConsoleLock.acquire()  // held until `end`: the line stays whole
    Console.write(level.tag)
    return true
  }

  static func end() {
    Console.write(0x0A)
    ConsoleLock.release()
  }

  static func error(_ message: StaticString) { line(.error, message) }
  static func warning(_ message: StaticString) { line(.warning, message) }
  static func info(_ message: StaticString) { line(.info, message) }
  static func debug(_ message: StaticString) { line(.debug, message) }

  static func line(_ level: LogLevel, _ message: StaticString) {
    guard begin(level) else { return }
    Console.write(message)
    end()
  }

  static func info(_ message: String) {
    guard begin(.info) else { return }
    Console.write(message)
    end()
  }

  static func setThreshold(named name: [UInt8]) {
    switch name {
    case Array("error".utf8): threshold = .error
    case Array("warning".utf8): threshold = .warning
    case Array("info".utf8): threshold = .info
    case Array("debug".utf8): threshold = .debug
    default: Log.warning("unknown loglevel on the command line; keeping info")
    }
  }
}
