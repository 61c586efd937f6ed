import Foundation

/// SHA-256 and HMAC-SHA-256 from an implementation other than ControlProtocol's: Python's
/// hashlib and hmac (OpenSSL's code), asked once for a whole batch of messages. The host
/// tests need python3 anyway (the integration runner is Python).
enum ReferenceDigests {
  /// The SHA-256 of each message, or of each (key, message) pair's HMAC when keys are given.
  static func compute(messages: [[UInt8]], keys: [[UInt8]]? = nil) throws -> [[UInt8]] {
    // One hex line per input on standard input: "MESSAGE" or "KEY MESSAGE" ("-" for empty).
    var input = ""
    for (index, message) in messages.enumerated() {
      if let keys { input += hexOrDash(keys[index]) + " " }
      input += hexOrDash(message) + "\n"
    }
    let script = """
      import hashlib, hmac, sys
      def raw(word): return b"" if word == "-" else bytes.fromhex(word)
      for line in sys.stdin:
          words = line.split()
          if len(words) == 2:
              print(hmac.new(raw(words[0]), raw(words[1]), hashlib.sha256).hexdigest())
          else:
              print(hashlib.sha256(raw(words[0])).hexdigest())
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let standardInput = Pipe()
    let standardOutput = Pipe()
    process.standardInput = standardInput
    process.standardOutput = standardOutput
    try process.run()
    // Write from another thread: the output pipe fills while the input is still going in.
    let data = Data(input.utf8)
    let writer = Thread {
      standardInput.fileHandleForWriting.write(data)
      try? standardInput.fileHandleForWriting.close()
    }
    writer.start()
    let output = standardOutput.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw ReferenceUnavailable(reason: "python3 ended with \(process.terminationStatus)")
    }
    let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
    guard lines.count == messages.count else {
      throw ReferenceUnavailable(
        reason: "python3 gave \(lines.count) digests for \(messages.count) inputs")
    }
    return lines.map { line in
      stride(from: 0, to: line.count, by: 2).map { offset in
        let start = line.index(line.startIndex, offsetBy: offset)
        return UInt8(line[start..<line.index(start, offsetBy: 2)], radix: 16)!
      }
    }
  }

  /// Fails the test (a missing reference must not pass silently).
  struct ReferenceUnavailable: Error {
    var reason: String
  }

  private static func hexOrDash(_ bytes: [UInt8]) -> String {
    guard !bytes.isEmpty else { return "-" }
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8](repeating: 0, count: 2 * bytes.count)
    for (index, byte) in bytes.enumerated() {
      text[2 * index] = digits[Int(byte >> 4)]
      text[2 * index + 1] = digits[Int(byte & 15)]
    }
    return String(decoding: text, as: UTF8.self)
  }
}
