import ControlClient
import ControlProtocol
import Foundation

/// A tiny node on 127.0.0.1 built from the protocol's receiver-side values: a
/// `ControlReceiver`, a `TransferAssembler`, and a VM table of names with a paused flag.
/// It runs on its own thread until `stop()`, and can lose datagrams on purpose.
final class LoopbackNode: @unchecked Sendable {
  let socket: UDPSocket
  var port: UInt16 { socket.localPort }
  private let lock = NSLock()
  private var receiver: ControlReceiver
  private var assembler = TransferAssembler<ArrayTransferStorage>()
  private var stopped = false
  private var thread: Thread?
  private var received = 0

  /// Decides, per datagram received (numbered from 1), whether its answer is lost.
  var loseAnswer: (Int) -> Bool = { _ in false }
  /// Decides, per datagram received, whether it is lost before the node sees it.
  var loseRequest: (Int) -> Bool = { _ in false }
  private(set) var executed: [Request] = []
  private var images: [[UInt8]: [UInt8]] = [:]
  private var paused: Set<[UInt8]> = []

  init(key: [UInt8], epoch: UInt64) throws {
    socket = try UDPSocket(bindingToLoopbackPort: 0)
    receiver = ControlReceiver(key: key, epoch: epoch)
  }

  var counters: ReceiverCounters { lock.withLock { receiver.counters } }
  var openTransfers: Int { lock.withLock { assembler.openTransfers } }

  /// The node's periodic check for cut-off transfers, at `now` ms (chunks arrive at 0).
  func expireTransfers(at now: UInt64) -> [UInt32] { lock.withLock { assembler.expire(now: now) } }
  var executedCount: Int { lock.withLock { executed.count } }
  var executedRequests: [Request] { lock.withLock { executed } }
  func image(named name: [UInt8]) -> [UInt8]? { lock.withLock { images[name] } }

  func start() {
    let thread = Thread { [self] in run() }
    self.thread = thread
    thread.start()
  }

  func stop() {
    lock.withLock { stopped = true }
    while thread?.isFinished == false { usleep(1000) }
  }

  private func run() {
    while !lock.withLock({ stopped }) {
      guard let (bytes, sender) = try? socket.receiveFrom(timeout: 20) else { continue }
      let reply: [UInt8]? = lock.withLock {
        received += 1
        if loseRequest(received) { return nil }
        let lose = loseAnswer(received)
        var answer: [UInt8]?
        switch receiver.receive(bytes) {
        case .execute(let accepted):
          executed.append(accepted.request)
          answer = receiver.respond(to: accepted, with: execute(accepted.request))
        case .send(let bytes): answer = bytes
        case .drop: answer = nil
        }
        return lose ? nil : answer
      }
      if let reply { try? socket.send(reply, to: sender) }
    }
  }

  /// The saved state every VM of this node reports: 700 bytes, three status answers' worth.
  static let state: [UInt8] = (0..<700).map { UInt8(truncatingIfNeeded: $0 * 7) }

  private func execute(_ request: Request) -> Response {
    if let (response, completed) = assembler.handle(request, now: 0) {
      if let completed { images[completed.name] = completed.storage.bytes }
      return response
    }
    switch request {
    case .nodeInfo:
      return .nodeInfo(
        NodeInfo(
          version: Array("loopback".utf8), backend: .svm, cpuCount: 2, coresPerPackage: 2,
          totalMemory: 1 << 30, freeMemory: 1 << 29, vmCount: 1, uptimeMilliseconds: 1,
          counters: receiver.counters))
    case .listVMs(let start):
      let all = (0..<30).map {
        VMSummary(
          id: UInt16($0), name: Array("vm-\($0)".utf8), state: .running, vcpuCount: 1,
          memorySize: 1 << 24)
      }
      let first = min(Int(start), all.count)
      let page = Array(all[first..<min(all.count, first + ProtocolLimits.maximumListedVMs)])
      return .vmList(VMList(vms: page, total: UInt16(all.count)))
    case .status(let name, let includeState, let offset):
      let summary = VMSummary(id: 1, name: name, state: .running, vcpuCount: 1, memorySize: 1 << 24)
      let start = min(Int(offset), LoopbackNode.state.count)
      let end = min(LoopbackNode.state.count, start + ProtocolLimits.maximumStateBytes)
      let excerpt = StateExcerpt(
        totalSize: UInt32(LoopbackNode.state.count), offset: UInt32(start),
        bytes: Array(LoopbackNode.state[start..<end]))
      return .vmStatus(
        VMStatus(
          summary: summary, uptimeMilliseconds: 5, vcpuCPUs: [0],
          state: includeState ? excerpt : nil))
    case .ioStatus:
      return .vmIOStatus(
        VMIOStatus(
          uptimeMilliseconds: 5, totalExits: 40,
          disk: DiskCounters(reads: 3, writes: 1, bytesRead: 1536, bytesWritten: 512)))
    case .pause(let name):
      guard !paused.contains(name) else {
        return .failure(ControlFailure(.invalidState, text: "already paused"))
      }
      paused.insert(name)
      return .done
    case .unpause(let name):
      guard paused.remove(name) != nil else { return .failure(ControlFailure(.invalidState)) }
      return .done
    default:
      return .failure(ControlFailure(.notSupported))
    }
  }
}
