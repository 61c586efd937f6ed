import HypervisorCore

/// A console sink that keeps every byte, grouped by the name of the VM that wrote it.
final class RecordingConsole: ConsoleSink {
  private(set) var streams: [(vmName: [UInt8], bytes: [UInt8])] = []
  private(set) var writeCount = 0

  func write(_ byte: UInt8, from vmName: [UInt8]) {
    writeCount += 1
    if let index = streams.firstIndex(where: { $0.vmName == vmName }) {
      streams[index].bytes.append(byte)
    } else {
      streams.append((vmName, [byte]))
    }
  }

  func bytes(from vmName: String) -> [UInt8] {
    streams.first(where: { $0.vmName == Array(vmName.utf8) })?.bytes ?? []
  }

  func text(from vmName: String) -> String { String(decoding: bytes(from: vmName), as: UTF8.self) }

  /// Every VM name that wrote at least one byte.
  var names: [String] { streams.map { String(decoding: $0.vmName, as: UTF8.self) } }
}
