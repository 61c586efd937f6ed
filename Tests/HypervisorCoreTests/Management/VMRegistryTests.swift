import XCTest

@testable import HypervisorCore

final class VMRegistryTests: XCTestCase {
  private func name(_ text: String) -> [UInt8] { Array(text.utf8) }

  func testNameInUseIsRefusedAndChangesNothing() {
    var registry = VMRegistry(capacity: 4)
    XCTAssertEqual(registry.reserve(name: name("web")), .success(0))
    let before = registry.entries
    XCTAssertEqual(registry.reserve(name: name("web")), .failure(.nameInUse))
    XCTAssertEqual(registry.entries, before)
    XCTAssertEqual(registry.availableIdentities, 3)
  }

  func testUnknownIdentitiesAreRefused() {
    var registry = VMRegistry(capacity: 4)
    XCTAssertEqual(registry.apply(.pauseRequested, to: 0), .failure(.unknownVM))
    XCTAssertEqual(registry.apply(.stopRequested, to: 99), .failure(.unknownVM))
    XCTAssertEqual(registry.check(.stopRequested, for: -1), .unknownVM)
    XCTAssertTrue(registry.entries.isEmpty)
  }

  func testDestroyingTwiceIsRefused() {
    var registry = VMRegistry(capacity: 4)
    guard case .success(let id) = registry.reserve(name: name("a")) else { return XCTFail() }
    registry.apply(.started, to: id)
    XCTAssertEqual(registry.apply(.stopRequested, to: id), .success(.stopping))
    XCTAssertEqual(registry.apply(.stopRequested, to: id), .failure(.stopping))
    XCTAssertEqual(registry.lifecycle(of: id), .stopping)
    registry.apply(.released, to: id)
    XCTAssertEqual(registry.apply(.stopRequested, to: id), .failure(.unknownVM))
  }

  func testIdentityAndNameAreReusedOnlyOnceGone() {
    var registry = VMRegistry(capacity: 1)
    guard case .success(let id) = registry.reserve(name: name("a")) else { return XCTFail() }
    registry.apply(.started, to: id)
    XCTAssertEqual(registry.reserve(name: name("b")), .failure(.noFreeIdentity))
    registry.apply(.stopRequested, to: id)
    XCTAssertEqual(registry.reserve(name: name("a")), .failure(.nameInUse))
    XCTAssertEqual(registry.reserve(name: name("b")), .failure(.noFreeIdentity))
    registry.apply(.released, to: id)
    XCTAssertNil(registry.id(named: name("a")))
    XCTAssertEqual(registry.reserve(name: name("a")), .success(id))
  }

  func testPausingAStoppedVMChangesNothing() {
    var registry = VMRegistry(capacity: 2)
    guard case .success(let id) = registry.reserve(name: name("a")) else { return XCTFail() }
    registry.apply(.started, to: id)
    registry.apply(.stopRequested, to: id)
    XCTAssertEqual(registry.apply(.pauseRequested, to: id), .failure(.stopping))
    XCTAssertEqual(registry.apply(.unpauseRequested, to: id), .failure(.stopping))
    XCTAssertEqual(registry.lifecycle(of: id), .stopping)
  }

  func testTwoHundredCreateDestroyCyclesReuseOneIdentity() {
    var registry = VMRegistry(capacity: 8)
    for _ in 0..<200 {
      guard case .success(let id) = registry.reserve(name: name("cycle")) else {
        return XCTFail()
      }
      XCTAssertEqual(id, 0)
      registry.apply(.started, to: id)
      registry.apply(.stopRequested, to: id)
      registry.apply(.released, to: id)
    }
    XCTAssertTrue(registry.entries.isEmpty)
    XCTAssertEqual(registry.availableIdentities, 8)
  }
}
