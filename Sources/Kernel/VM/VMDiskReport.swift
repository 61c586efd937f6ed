import ControlProtocol
import HypervisorCore

/// What the console says of a VM's disk when the VM is released: its block device's counters
/// and, with `disk_hash` on the kernel command line, the SHA-256 of the image as the VM left
/// it, which a test compares with what the guest computed of its /dev/vda (docs/guest-io.md).
enum VMDiskReport {
  /// Set at boot from the kernel command line; hashing a large image takes a while.
  nonisolated(unsafe) static var hashOnRelease = false

  static func print(_ vm: VirtualMachine) {
    guard let disk = vm.disk else { return }
    Console.write("  disk ")
    Console.write(bytes: disk.name)
    Console.write(": ")
    Console.write(decimal: disk.size)
    Console.write(" bytes")
    if let device = vm.diskDevice {
      write(device.statistics)
    } else {
      Console.write(", no block device")
    }
    Console.write("\n")
    if hashOnRelease {
      Console.write("  disk ")
      Console.write(bytes: disk.name)
      Console.write(": sha256 ")
      let digits = Array("0123456789abcdef".utf8)
      for byte in hash(disk) {
        Console.write(digits[Int(byte >> 4)])
        Console.write(digits[Int(byte & 15)])
      }
      Console.write("\n")
    }
  }

  static func write(_ statistics: VirtioBlockStatistics) {
    Console.write(", ")
    Console.write(decimal: statistics.requests)
    Console.write(" requests (")
    Console.write(decimal: statistics.reads)
    Console.write(" reads, ")
    Console.write(decimal: statistics.writes)
    Console.write(" writes, ")
    Console.write(decimal: statistics.flushes)
    Console.write(" flushes, ")
    Console.write(decimal: statistics.identifications)
    Console.write(" get-id, ")
    Console.write(decimal: statistics.discards)
    Console.write(" discards, ")
    Console.write(decimal: statistics.writeZeroes)
    Console.write(" write-zeroes, ")
    Console.write(decimal: statistics.unsupported)
    Console.write(" unsupported), ")
    Console.write(decimal: statistics.bytesRead)
    Console.write(" bytes read, ")
    Console.write(decimal: statistics.bytesWritten)
    Console.write(" written, ")
    Console.write(decimal: statistics.ioErrors)
    Console.write(" I/O errors (")
    Console.write(decimal: statistics.outOfRange)
    Console.write(" out of range, ")
    Console.write(decimal: statistics.shortHeaders)
    Console.write(" short headers), ")
    Console.write(decimal: statistics.unanswerable)
    Console.write(" unanswerable, ")
    Console.write(decimal: statistics.queueFaults)
    Console.write(" queue faults, ")
    Console.write(decimal: statistics.notifications)
    Console.write(" notifications")
  }

  /// SHA-256 of the image, 64 KiB at a time through a heap buffer.
  static func hash(_ disk: DiskImage) -> [UInt8] {
    var hasher = SHA256Hasher()
    let chunk = 64 << 10
    var buffer = [UInt8](repeating: 0, count: chunk)
    var offset = 0
    while offset < disk.bytes.count {
      let count = min(chunk, disk.bytes.count - offset)
      buffer.withUnsafeMutableBytes {
        $0.baseAddress!.copyMemory(from: disk.bytes.baseAddress! + offset, byteCount: count)
      }
      hasher.update(buffer, from: 0, to: count)
      offset += count
    }
    return hasher.finalize()
  }
}
