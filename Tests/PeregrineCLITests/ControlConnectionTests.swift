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

  private func connection(to node: LoopbackControlNode, key: [UInt8]) throws -> ControlConnection {
    let policy = RetransmissionPolicy(initialTimeout: 50, maximumTimeout: 100, maximumAttempts: 3)
    return ControlConnection(
      node: "node0",
      client: try ControlClient(host: "127.0.0.1", port: node.port, key: key, policy: policy))
  }

  func testDescribeNodeAsksForInfoAndTheVMsAndWordsTheTopology() throws {
    let node = LoopbackControlNode(key: key)
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

  func testADegradedNodeSaysWhyAndListsCarryUptime() throws {
    let node = LoopbackControlNode(key: key)
    let info = NodeInfo(
      version: Array("0.11".utf8), backend: .vmx, health: .degraded, cpuCount: 2,
      coresPerPackage: 2, totalMemory: 1 << 30, freeMemory: 12 << 20, vmCount: 1,
      uptimeMilliseconds: 1500,
      problems: [
        NodeInfo.HealthProblem(.cpuStalled, subject: 1, value: 2500),
        NodeInfo.HealthProblem(.lowMemory, value: 12 << 20),
        NodeInfo.HealthProblem(.failedVMs, value: 1),
      ])
    let vm = VMSummary(
      id: 0, name: Array("ticker".utf8), state: .running, vcpuCount: 1, memorySize: 16 << 20,
      uptimeMilliseconds: 75_250)
    node.serve(100) { request in
      switch request {
      case .nodeInfo: return .nodeInfo(info)
      case .listVMs: return .vmList(VMList(vms: [vm], total: 1))
      default: return .failure(ControlFailure(.notSupported))
      }
    }
    let report = try connection(to: node, key: key).describeNode()
    XCTAssertEqual(report.health, "degraded")
    XCTAssertEqual(
      report.healthProblems,
      [
        "CPU 1 has not passed its scheduler loop for 2500 ms", "only 12 MiB of memory free",
        "1 VM ended in failure since boot",
      ])
    let machines = try connection(to: node, key: key).listMachines()
    XCTAssertEqual(machines.map(\.uptimeSeconds), [75.25])
  }

  func testRefusalsBecomeTheCLIsErrors() throws {
    let node = LoopbackControlNode(key: key)
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
    let node = LoopbackControlNode(key: key)
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
