/// SHA-256 (FIPS 180-4), streaming: `update` any number of times, then `finalize`.
///
/// Written for the kernel as much as for the host: no allocation after `init` (the block
/// buffer and message schedule are inline), fixed-width arithmetic only.
public struct SHA256Hasher {
  public static let digestSize = 32
  public static let blockSize = 64

  /// FIPS 180-4 §5.3.3: the initial hash value H(0).
  private var state: InlineArray<8, UInt32> = [
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
    0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
  ]
  /// Bytes of the current, incomplete block.
  private var block: InlineArray<64, UInt8> = .init(repeating: 0)
  private var blockCount = 0
  /// The message length so far, in bytes (FIPS 180-4 §5.1.1 appends it in bits, mod 2^64).
  private var length: UInt64 = 0

  public init() {}

  /// The digest of `message` in one call.
  public static func hash(_ message: [UInt8]) -> [UInt8] {
    var hasher = SHA256Hasher()
    hasher.update(message)
    return hasher.finalize()
  }

  public mutating func update(_ bytes: [UInt8]) {
    update(bytes, from: 0, to: bytes.count)
  }

  /// Absorbs `bytes[start..<end]`.
  public mutating func update(_ bytes: [UInt8], from start: Int, to end: Int) {
    precondition(start >= 0 && start <= end && end <= bytes.count, "range outside the bytes")
    length &+= UInt64(end - start)
    var index = start
    // Top up a partly filled block first.
    while blockCount > 0 && index < end {
      block[blockCount] = bytes[index]
      blockCount += 1
      index += 1
      if blockCount == 64 {
        compressBufferedBlock()
        blockCount = 0
      }
    }
    // Whole blocks straight from the input.
    while end - index >= 64 {
      var words: InlineArray<16, UInt32> = .init(repeating: 0)
      for word in 0..<16 {
        let base = index + 4 * word
        words[word] =
          UInt32(bytes[base]) << 24 | UInt32(bytes[base + 1]) << 16
          | UInt32(bytes[base + 2]) << 8 | UInt32(bytes[base + 3])
      }
      compress(words)
      index += 64
    }
    while index < end {
      block[blockCount] = bytes[index]
      blockCount += 1
      index += 1
    }
  }

  /// FIPS 180-4 §5.1.1: a 1 bit, zeros to 56 mod 64 bytes, the length in bits (big-endian);
  /// §6.2.2 step 4: the digest is H(N) big-endian.
  public mutating func finalize() -> [UInt8] {
    let bitLength = length &* 8
    block[blockCount] = 0x80
    blockCount += 1
    if blockCount > 56 {
      while blockCount < 64 {
        block[blockCount] = 0
        blockCount += 1
      }
      compressBufferedBlock()
      blockCount = 0
    }
    while blockCount < 56 {
      block[blockCount] = 0
      blockCount += 1
    }
    for byte in 0..<8 { block[56 + byte] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * byte)) }
    compressBufferedBlock()
    blockCount = 0
    var digest = [UInt8](repeating: 0, count: 32)
    for word in 0..<8 {
      let value = state[word]
      digest[4 * word] = UInt8(truncatingIfNeeded: value >> 24)
      digest[4 * word + 1] = UInt8(truncatingIfNeeded: value >> 16)
      digest[4 * word + 2] = UInt8(truncatingIfNeeded: value >> 8)
      digest[4 * word + 3] = UInt8(truncatingIfNeeded: value)
    }
    return digest
  }

  private mutating func compressBufferedBlock() {
    var words: InlineArray<16, UInt32> = .init(repeating: 0)
    for word in 0..<16 {
      words[word] =
        UInt32(block[4 * word]) << 24 | UInt32(block[4 * word + 1]) << 16
        | UInt32(block[4 * word + 2]) << 8 | UInt32(block[4 * word + 3])
    }
    compress(words)
  }

  /// FIPS 180-4 §6.2.2: one 512-bit block. The message schedule is expanded first (step 1);
  /// the 64 rounds (step 3) run eight at a time with the working variables renamed instead
  /// of shifted (a round changes only d and h; the next one sees them one place along).
  private mutating func compress(_ message: InlineArray<16, UInt32>) {
    var w: InlineArray<64, UInt32> = .init(repeating: 0)
    for t in 0..<16 { w[t] = message[t] }
    for t in 16..<64 {
      // §6.2.2 step 1: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16] (§4.1.2 (4.6), (4.7)).
      let w2 = w[t - 2]
      let w15 = w[t - 15]
      let sigma1 = w2.rotatedRight(17) ^ w2.rotatedRight(19) ^ (w2 >> 10)
      let sigma0 = w15.rotatedRight(7) ^ w15.rotatedRight(18) ^ (w15 >> 3)
      w[t] = sigma1 &+ w[t - 7] &+ sigma0 &+ w[t - 16]
    }
    var a = state[0]
    var b = state[1]
    var c = state[2]
    var d = state[3]
    var e = state[4]
    var f = state[5]
    var g = state[6]
    var h = state[7]
    let k = SHA256Hasher.roundConstants
    for t in stride(from: 0, to: 64, by: 8) {
      SHA256Hasher.round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
      SHA256Hasher.round(h, a, b, &c, d, e, f, &g, k[t + 1] &+ w[t + 1])
      SHA256Hasher.round(g, h, a, &b, c, d, e, &f, k[t + 2] &+ w[t + 2])
      SHA256Hasher.round(f, g, h, &a, b, c, d, &e, k[t + 3] &+ w[t + 3])
      SHA256Hasher.round(e, f, g, &h, a, b, c, &d, k[t + 4] &+ w[t + 4])
      SHA256Hasher.round(d, e, f, &g, h, a, b, &c, k[t + 5] &+ w[t + 5])
      SHA256Hasher.round(c, d, e, &f, g, h, a, &b, k[t + 6] &+ w[t + 6])
      SHA256Hasher.round(b, c, d, &e, f, g, h, &a, k[t + 7] &+ w[t + 7])
    }
    state[0] &+= a
    state[1] &+= b
    state[2] &+= c
    state[3] &+= d
    state[4] &+= e
    state[5] &+= f
    state[6] &+= g
    state[7] &+= h
  }

  /// One round of §6.2.2 step 3: T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t],
  /// T2 = Σ0(a) + Maj(a,b,c); e becomes d + T1 and a becomes T1 + T2, which here land in
  /// `d` and `h` (the caller renames the rest).
  @inline(__always)
  private static func round(
    _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32, _ e: UInt32, _ f: UInt32, _ g: UInt32,
    _ h: inout UInt32, _ constantPlusWord: UInt32
  ) {
    // §4.1.2 (4.2)-(4.5); Ch and Maj in equivalent forms with fewer operations.
    let bigSigma1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
    let choose = g ^ (e & (f ^ g))
    let t1 = h &+ bigSigma1 &+ choose &+ constantPlusWord
    let bigSigma0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
    let majority = (a & (b | c)) | (b & c)
    d = d &+ t1
    h = t1 &+ bigSigma0 &+ majority
  }

  /// FIPS 180-4 §4.2.2: K0..K63, the first 32 bits of the fractional parts of the cube roots
  /// of the first 64 primes.
  private static let roundConstants: InlineArray<64, UInt32> = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585,
    0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7,
    0xc671_78f2,
  ]
}

extension UInt32 {
  /// FIPS 180-4 §3.2: ROTR^n(x).
  @inline(__always)
  fileprivate func rotatedRight(_ count: UInt32) -> UInt32 {
    (self >> count) | (self << (32 - count))
  }
}
