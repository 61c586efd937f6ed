import CArch
import ControlProtocol

/// The node's boot epoch (docs/control-protocol.md, "Epoch"): 64 bits it never picks again,
/// so requests sealed for an earlier boot are refused as stale. The TSC at this moment
/// (cycles since reset, which differ from boot to boot) mixed through SHA-256 with RDRAND's
/// output when CPUID.1:ECX[30] says the DRNG exists (Intel SDM Vol. 2B "RDRAND"; AMD APM
/// Vol. 3 "RDRAND"). Never 0: a client that does not know the epoch sends 0.
enum BootEpoch {
  static func pick() -> (epoch: UInt64, usedRDRAND: Bool) {
    var material: [UInt8] = []
    append(arch_rdtsc(), to: &material)
    var usedRDRAND = false
    if arch_cpuid(1, 0).ecx & (1 << 30) != 0 {
      // The SDM's guidance: retry a few times when CF=0 (the DRNG was momentarily empty).
      for _ in 0..<2 {
        for _ in 0..<10 {
          var value: UInt64 = 0
          if arch_rdrand64(&value) != 0 {
            append(value, to: &material)
            usedRDRAND = true
            break
          }
        }
      }
    }
    append(arch_rdtsc(), to: &material)
    let digest = SHA256Hasher.hash(material)
    var epoch: UInt64 = 0
    for byte in digest.prefix(8) { epoch = epoch << 8 | UInt64(byte) }
    return (epoch == 0 ? 1 : epoch, usedRDRAND)
  }

  private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }
}
