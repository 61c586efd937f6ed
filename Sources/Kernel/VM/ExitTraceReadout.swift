import HypervisorCore

/// Prints a VM's exit trace on the console when the VM ends (docs/exit-trace.md): a BEGIN
/// line with the size and CRC-32 of the file, the file in base64 on lines starting "PGXT ",
/// and an END line. `scripts/extract-trace.py LOG OUT` turns them back into the file.
enum ExitTraceReadout {
  /// Bytes per line: 57 encode to 76 characters.
  static let bytesPerLine = 57

  static func print(_ trace: ExitTraceRecorder, vm: VirtualMachine) {
    let file = trace.fileBytes()
    var records = 0
    var dropped = 0
    for count in trace.counts { records += count }
    for count in trace.dropped { dropped += count }
    Console.together {
      Console.write("PGXT BEGIN vm=")
      Console.write(bytes: vm.name)
      Console.write(" format=")
      Console.write(decimal: UInt64(ExitTraceFile.version))
      Console.write(" records=")
      Console.write(decimal: UInt64(records))
      Console.write(" bytes=")
      Console.write(decimal: UInt64(file.count))
      Console.write(" crc32=")
      Console.write(hex: UInt64(CRC32.checksum(file)), digits: 8)
      Console.write(" dropped=")
      Console.write(decimal: UInt64(dropped))
      Console.write("\n")
      var offset = 0
      while offset < file.count {
        let count = min(bytesPerLine, file.count - offset)
        Console.write("PGXT ")
        Base64.encode(file, from: offset, count: count) { Console.write($0) }
        Console.write("\n")
        offset += count
      }
      Console.write("PGXT END vm=")
      Console.write(bytes: vm.name)
      Console.write("\n")
    }
  }
}
