// fuzz-modules: ControlProtocol
// The control protocol's datagrams (docs/control-protocol.md): what anyone on the
// management network can send to a node's UDP port, and what a node sends back to the CLI.
//
// Checks, beyond not trapping:
// - `Datagram.open` on the raw input: it refuses or opens, and an opened datagram's payload
//   is the input's bytes between header and tag;
// - every request and response decoder on the input as a payload: what decodes encodes back
//   to exactly the input (the encoding is canonical), within the payload limit;
// - the input taken as header and payload, its length fixed and sealed with the key (so it
//   passes authentication), into a receiver: each datagram is counted exactly once, an
//   executed request is within the limits, and every answer is an authentic datagram;
// - a disk read's offset and length against a small disk of the input's own bytes
//   (`DiskScan`, the node's side): refused when unaligned or beyond the end, otherwise an
//   answer inside the disk that starts at or after the offset, on a chunk boundary.
//
// Input: the datagram (or payload) bytes.
import ControlProtocol

let key: [UInt8] = Array("fuzzing cluster key".utf8)
let epoch: UInt64 = 0x0102_0304_0506_0708
let hmac = HMACSHA256(key: key)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))

  if let datagram = try? Datagram.open(input, with: hmac) {
    precondition(
      datagram.payload == Array(input[DatagramHeader.size..<(input.count - HMACSHA256.tagSize)]))
  }

  for kind in MessageKind.allCases {
    if let request = try? Request.decode(kind: kind, payload: input) {
      precondition(request.kind == kind)
      if case .diskRead(_, let offset, let maximumLength) = request {
        scanDisk(offset, maximumLength, input)
      }
      precondition(
        (try? request.encodedPayload()) == input, "a request does not re-encode as it came")
    }
    if let response = try? Response.decode(kind: kind, payload: input) {
      precondition(response.answers(kind))
      precondition(
        (try? response.encodedPayload(for: kind)) == input,
        "a response does not re-encode as it came")
    }
  }

  guard input.count >= DatagramHeader.size,
    input.count - DatagramHeader.size <= ProtocolLimits.maximumPayload
  else { return 0 }
  var sealed = input
  let payloadLength = input.count - DatagramHeader.size
  sealed[12] = UInt8(payloadLength >> 8)
  sealed[13] = UInt8(payloadLength & 0xff)
  // Half the time the node's epoch, so that the checks after it are reached.
  if input[5] & 1 == 0 {
    for index in 0..<8 {
      sealed[16 + index] = UInt8(truncatingIfNeeded: epoch >> UInt64(56 - 8 * index))
    }
  }
  sealed += hmac.authenticationCode(for: sealed)
  var receiver = ControlReceiver(key: key, epoch: epoch)
  switch receiver.receive(sealed) {
  case .execute(let accepted):
    precondition(receiver.counters.accepted == 1)
    let payload = try? accepted.request.encodedPayload()
    precondition(
      payload == Array(input[DatagramHeader.size...]), "an executed request is not what came")
    let answer = receiver.respond(to: accepted, with: .done)
    precondition((try? Datagram.open(answer, with: hmac)) != nil)
    precondition(
      receiver.receive(sealed) == .send(answer), "a retransmission is not answered from the cache")
  case .send(let answer):
    precondition(
      (try? Datagram.open(answer, with: hmac)) != nil, "an answer that does not authenticate")
  case .drop:
    break
  }
  let counters = receiver.counters
  let total =
    counters.accepted + counters.duplicates + counters.refusedUnauthenticated
    + counters.refusedMalformed
    + counters.refusedReplayed + counters.refusedStaleEpoch
  precondition(
    total == 1 || (total == 2 && counters.duplicates == 1), "a datagram not counted exactly once")
  return 0
}

/// The node's zero-skipping scan over a disk of 4 KiB with the input's bytes at its start.
func scanDisk(_ offset: UInt64, _ maximumLength: UInt16, _ input: [UInt8]) {
  var disk = [UInt8](repeating: 0, count: 4096)
  disk.replaceSubrange(0..<min(input.count, disk.count), with: input.prefix(disk.count))
  disk.withUnsafeBytes { bytes in
    guard let data = DiskScan.read(bytes, from: offset, maximumLength: Int(maximumLength)) else {
      precondition(offset % UInt64(DiskScan.chunkSize) != 0 || offset > 4096)
      return
    }
    precondition(data.size == 4096 && data.offset >= offset && data.offset <= 4096)
    precondition(data.offset % UInt64(DiskScan.chunkSize) == 0 || data.offset == 4096)
    precondition(data.offset + UInt64(data.bytes.count) <= 4096)
    precondition(data.bytes.count <= min(Int(maximumLength), DiskScan.chunkSize))
    precondition(data.bytes == Array(disk[Int(data.offset)..<Int(data.offset) + data.bytes.count]))
  }
}
