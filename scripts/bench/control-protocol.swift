// ControlProtocol's costs on the host (scripts/bench-control-protocol.sh builds it with the
// module's sources, whole-module, -O as in the kernel):
//   sha256             SHA-256 throughput over 1 MiB buffers
//   receive COUNT      ControlReceiver.receive of COUNT new 128-byte createVM requests
//                      (authenticate, epoch, window, cache, decode); under callgrind, the
//                      difference between two COUNTs divided by their difference is the
//                      instruction count of one request
// Without arguments: both, timed.

let key: [UInt8] = Array("an example cluster key, 32 bytes".utf8)
let epoch: UInt64 = 42

func requests(_ count: Int) -> [[UInt8]] {
  var session = ClientSession(key: key, clientID: 1, firstSequence: 1, epoch: epoch)
  let specification = VMSpecification(
    name: Array("vm".utf8), memorySize: 64 << 20, kernelImage: Array("vmlinuz".utf8),
    commandLine: [UInt8](repeating: 0x61, count: 36))
  return (0..<count).map { _ in
    let bytes = try! session.seal(.createVM(specification)).bytes
    precondition(bytes.count == 128)
    return bytes
  }
}

func receive(_ datagrams: [[UInt8]]) -> Int {
  var receiver = ControlReceiver(key: key, epoch: epoch)
  var executed = 0
  for datagram in datagrams {
    if case .execute = receiver.receive(datagram) { executed += 1 }
  }
  return executed
}

func sha256Throughput() {
  let buffer = [UInt8](repeating: 0x5a, count: 1 << 20)
  var hasher = SHA256Hasher()
  let start = ContinuousClock.now
  let rounds = 64
  for _ in 0..<rounds { hasher.update(buffer) }
  let digest = hasher.finalize()
  let elapsed = ContinuousClock.now - start
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
  print("sha256: \(Int(Double(rounds << 20) / seconds / 1e6)) MB/s (\(digest[0]))")
}

@main
struct Bench {
  static func main() {
    let arguments = CommandLine.arguments
    if arguments.count >= 2 && arguments[1] == "sha256" {
      sha256Throughput()
    } else if arguments.count >= 3 && arguments[1] == "receive" {
      let datagrams = requests(Int(arguments[2])!)
      print("executed \(receive(datagrams))")
    } else {
      sha256Throughput()
      let datagrams = requests(20_000)
      let start = ContinuousClock.now
      let executed = receive(datagrams)
      let elapsed = ContinuousClock.now - start
      let seconds =
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
      print(
        "receive: \(executed) requests of 128 bytes, \(Int(seconds / Double(executed) * 1e9)) ns each"
      )
    }
  }
}
