import ControlClient
import ControlProtocol
import Foundation
import PeregrineProfiles
import XCTest

@testable import PeregrineCommands

/// The CLI's real connection against a node of the test's own on loopback: a thread that
/// answers with `ControlReceiver`, as the kernel's control server does.
final class ControlConnectionTests: XCTestCase {
  private let key = [UInt8](repeating: 0x5e, count: 32)

  /// Answers up to `count` datagrams on a loopback port, until 2 s pass without one.
  private final class LoopbackNode: @unchecked Sendable {
    let descriptor: Int32
    let port: UInt16
    var receiver: ControlReceiver
    let done = DispatchSemaphore(value: 0)

    init(key: [UInt8]) {
      let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
      self.descriptor = descriptor
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          _ = bind(descriptor, $0, length)
          _ = getsockname(descriptor, $0, &length)
        }
      }
      port = UInt16(bigEndian: address.sin_port)
      receiver = ControlReceiver(key: key, epoch: 42)
      var timeout = timeval(tv_sec: 2, tv_usec: 0)
      setsockopt(
        descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func serve(_ count: Int, answer: @escaping (Request) -> Response) {
      Thread {
        defer { self.done.signal() }
        for _ in 0..<count {
          var buffer = [UInt8](repeating: 0, count: 2048)
          var peer = sockaddr_storage()
          var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
          let received = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
              recvfrom(self.descriptor, &buffer, buffer.count, 0, $0, &peerLength)
            }
          }
          guard received > 0 else { return }
          let reply: [UInt8]
          switch self.receiver.receive(Array(buffer[0..<received])) {
          case .drop: continue
          case .send(let bytes): reply = bytes
          case .execute(let accepted):
            reply = self.receiver.respond(to: accepted, with: answer(accepted.request))
          }
          let sent = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
              sendto(self.descriptor, reply, reply.count, 0, $0, peerLength)
            }
          }
          XCTAssertEqual(sent, reply.count)
        }
      }.start()
    }

    deinit { close(descriptor) }
  }

  private func connection(to node: LoopbackNode, key: [UInt8]) throws -> ControlConnection {
    let policy = RetransmissionPolicy(initialTimeout: 50, maximumTimeout: 100, maximumAttempts: 3)
    return ControlConnection(
      node: "node0",
      client: try ControlClient(host: "127.0.0.1", port: node.port, key: key, policy: policy))
  }

  func testDescribeNodeAsksForInfoAndTheVMsAndWordsTheTopology() throws {
    let node = LoopbackNode(key: key)
    var counters = ReceiverCounters()
    counters.refusedUnauthenticated = 2
    counters.refusedReplayed = 1
    let info = NodeInfo(
      version: Array("0.11".utf8), backend: .svm, cpuCount: 2, coresPerPackage: 2,
      totalMemory: 1 << 30, freeMemory: 900 << 20, vmCount: 1, uptimeMilliseconds: 1500,
      counters: counters)
    let vm = VMSummary(
      id: 0, name: Array("ticker".utf8), state: .paused, vcpuCount: 1, memorySize: 16 << 20)
    node.serve(100) { request in
      switch request {
      case .nodeInfo: return .nodeInfo(info)
      case .listVMs: return .vmList(VMList(vms: [vm], total: 1))
      default: return .failure(ControlFailure(.notSupported))
      }
    }
    let report = try connection(to: node, key: key).describeNode()
    XCTAssertEqual(report.cpuCount, 2)
    XCTAssertEqual(report.topology, "1 package, 2 cores per package, 1 thread per core")
    XCTAssertEqual(report.freeMemory, 900 << 20)
    XCTAssertEqual(report.machines, ["ticker"])
    XCTAssertEqual(report.refusedRequests, 3)
    XCTAssertEqual(report.uptimeSeconds, 1.5)
    XCTAssertEqual(report.health, "healthy")
    let machines = try connection(to: node, key: key).listMachines()
    XCTAssertEqual(machines.map(\.state), [.paused])
  }

  func testRefusalsBecomeTheCLIsErrors() throws {
    let node = LoopbackNode(key: key)
    node.serve(100) { request in
      switch request {
      case .pause: return .failure(ControlFailure(.unknownVM, detail: Array("ghost".utf8)))
      default: return .failure(ControlFailure(.invalidState, text: "the VM is not paused"))
      }
    }
    let connection = try connection(to: node, key: key)
    XCTAssertThrowsError(try connection.pauseMachine(named: "ghost")) { error in
      XCTAssertEqual(error as? NodeError, .noSuchMachine("ghost"))
    }
    XCTAssertThrowsError(try connection.unpauseMachine(named: "ticker")) { error in
      guard case .refused(let nodeName, let reason)? = error as? NodeError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(nodeName, "node0")
      XCTAssertTrue(reason.contains("the VM is not paused"), reason)
    }
  }

  func testAWrongKeyGetsNoAnswerAndSaysSo() throws {
    let node = LoopbackNode(key: key)
    node.serve(3) { _ in .done }
    let wrong = [UInt8](repeating: 0x0b, count: 32)
    XCTAssertThrowsError(try connection(to: node, key: wrong).describeNode()) { error in
      guard case .unreachable(let name, _)? = error as? NodeError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(name, "node0")
    }
    node.done.wait()
    XCTAssertEqual(node.receiver.counters.refusedUnauthenticated, 3)
    XCTAssertEqual(node.receiver.counters.accepted, 0)
  }

  func testAFlatProfileCarriesWhereItLoadsAndStarts() throws {
    var profile = MachineProfile(
      name: "hello",
      boot: .flat(image: "/x.bin", loadAddress: 0x7c00, entrySegment: 0, entryOffset: 0x7c00))
    profile.memoryBytes = 8 << 20
    let specification = try ControlConnection.specification(of: profile, node: "node0")
    XCTAssertEqual(specification.kind, .flat)
    XCTAssertEqual(
      String(decoding: specification.commandLine, as: UTF8.self), "load=0x7c00 entry=0000:7c00")
    XCTAssertEqual(specification.memorySize, 8 << 20)
    let linux = MachineProfile(
      name: "linux", boot: .linux(kernel: "/k", initrd: nil, commandLine: "console=ttyS0"))
    let linuxSpecification = try ControlConnection.specification(of: linux, node: "node0")
    XCTAssertEqual(linuxSpecification.kind, .linux)
    XCTAssertEqual(linuxSpecification.commandLine, Array("console=ttyS0".utf8))
  }
}
