import ControlProtocol

/// A small deterministic generator (SplitMix64), so random tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }

  mutating func bytes(_ count: Int) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
  }
}

func hex(_ bytes: [UInt8]) -> String {
  bytes.map { byte in
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
  }.joined()
}

func unhex(_ text: String) -> [UInt8] {
  let characters = Array(text.utf8)
  return stride(from: 0, to: characters.count, by: 2).map { index in
    UInt8(String(decoding: characters[index..<index + 2], as: UTF8.self), radix: 16)!
  }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

let clusterKey = bytes("an example cluster key, 32 bytes")
let nodeEpoch: UInt64 = 0x1122_3344_5566_7788
