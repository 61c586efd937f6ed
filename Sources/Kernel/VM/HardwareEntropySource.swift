import CArch
import HypervisorCore

/// The bytes a VM's virtio-rng device hands its guest: RDRAND's output when CPUID.1:ECX[30]
/// says the DRNG exists (Intel SDM Vol. 2B "RDRAND"; AMD APM Vol. 3), retried as the SDM
/// advises when it is momentarily empty; else (or when it stays empty) the time-stamp counter
/// mixed through SplitMix64's finalizer, which is unpredictable only in its low bits' jitter
/// and is not cryptographic: `fallbackWords` counts how often it was used.
final class HardwareEntropySource: EntropySource {
  private let hasRDRAND = arch_cpuid(1, 0).ecx & (1 << 30) != 0
  private var mixState: UInt64 = arch_rdtsc()
  private(set) var rdrandWords = 0
  private(set) var fallbackWords = 0

  func fill(_ buffer: UnsafeMutableRawBufferPointer) {
    var offset = 0
    while offset < buffer.count {
      var word = nextWord()
      let count = min(8, buffer.count - offset)
      withUnsafeBytes(of: &word) { bytes in
        for index in 0..<count { buffer[offset + index] = bytes[index] }
      }
      offset += count
    }
  }

  private func nextWord() -> UInt64 {
    if hasRDRAND {
      for _ in 0..<10 {
        var value: UInt64 = 0
        if arch_rdrand64(&value) != 0 {
          rdrandWords += 1
          return value
        }
      }
    }
    fallbackWords += 1
    mixState = mixState &+ 0x9E37_79B9_7F4A_7C15 ^ arch_rdtsc()
    var z = mixState
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
