import XCTest

@testable import HypervisorCore

final class PassthroughClaimsTests: XCTestCase {
  private func function(_ text: String) -> PassthroughFunction {
    PassthroughFunction.parse(Array(text.utf8))!
  }

  private func string(_ bytes: [UInt8]?) -> String? {
    bytes.map { String(decoding: $0, as: UTF8.self) }
  }

  func testParsingAndSpelling() throws {
    let full = try XCTUnwrap(PassthroughFunction.parse(Array("0000:00:05.0".utf8)))
    XCTAssertEqual(full, PassthroughFunction(segment: 0, bus: 0, device: 5, function: 0))
    XCTAssertEqual(String(decoding: full.text, as: UTF8.self), "0000:00:05.0")
    let short = try XCTUnwrap(PassthroughFunction.parse(Array("3a:1F.7".utf8)))
    XCTAssertEqual(short, PassthroughFunction(segment: 0, bus: 0x3a, device: 0x1f, function: 7))
    XCTAssertEqual(String(decoding: short.text, as: UTF8.self), "0000:3a:1f.7")
    XCTAssertEqual(short.deviceFunction, 0xff)
    XCTAssertEqual(
      PassthroughFunction.parse(Array("0001:02:03.4".utf8))?.segment, 1)
    for bad in [
      "", "00:05", "0000:00:20.0", "0000:00:05.8", "0000:00:05.", ":00:05.0", "00000:00:05.0",
      "0000:100:05.0", "0000:00:05.0.1", "00.05:0", "0000:0g:05.0", "0000:00:05:0",
    ] {
      XCTAssertNil(PassthroughFunction.parse(Array(bad.utf8)), bad)
    }
  }

  func testRefusalsNameTheFunctionAndTheReason() {
    var claims = PassthroughClaims()
    let host = [
      PassthroughClaims.HostFunction(
        address: function("00:00.0"), isBridge: false, isPlatform: true),
      PassthroughClaims.HostFunction(address: function("00:03.0"), isBridge: false),
      PassthroughClaims.HostFunction(address: function("00:05.0"), isBridge: false),
      PassthroughClaims.HostFunction(address: function("00:06.0"), isBridge: false),
      PassthroughClaims.HostFunction(address: function("00:1e.0"), isBridge: true),
    ]
    let reserved = [
      PassthroughClaims.Reserved(address: function("00:03.0"), role: "is the node's management NIC")
    ]
    func claim(_ names: [String], _ vm: String) -> String? {
      string(
        claims.claim(names.map(function), for: Array(vm.utf8), host: host, reserved: reserved))
    }
    XCTAssertEqual(claim(["00:09.0"], "a"), "0000:00:09.0: no such PCI function on this node")
    XCTAssertEqual(claim(["00:03.0"], "a"), "0000:00:03.0: is the node's management NIC")
    XCTAssertEqual(
      claim(["00:1e.0"], "a"),
      "0000:00:1e.0: is a PCI bridge: the functions behind it are not the VM's")
    XCTAssertEqual(claim(["00:00.0"], "a"), "0000:00:00.0: is the platform's host or ISA bridge")
    XCTAssertEqual(
      claim(["0001:00:05.0"], "a"),
      "0001:00:05.0: only PCI segment 0 can be passed through (the node's config mechanism #1)")
    XCTAssertEqual(claim(["00:05.0", "00:05.0"], "a"), "0000:00:05.0: named twice")
    // Nothing was recorded by any refusal: both functions are still free.
    XCTAssertTrue(claims.owners.isEmpty)
    // One good function and one refused: neither is taken.
    XCTAssertNotNil(claim(["00:05.0", "00:03.0"], "a"))
    XCTAssertNil(claims.owner(of: function("00:05.0")))

    XCTAssertNil(claim(["00:05.0"], "a"))
    XCTAssertEqual(string(claims.owner(of: function("00:05.0"))), "a")
    XCTAssertEqual(claims.functions(of: Array("a".utf8)), [function("00:05.0")])
    XCTAssertEqual(claim(["00:05.0"], "b"), "0000:00:05.0: already owned by VM a")
    XCTAssertEqual(
      claim(["00:06.0"], "a"), "a VM of that name still owns PCI functions (it is ending)")
    XCTAssertNil(claim(["00:06.0"], "b"))
  }

  func testAFunctionIsFreeOnlyAfterItsReset() {
    var claims = PassthroughClaims()
    let host = [PassthroughClaims.HostFunction(address: function("00:05.0"), isBridge: false)]
    let vm = Array("a".utf8)
    XCTAssertNil(claims.claim([function("00:05.0")], for: vm, host: host, reserved: []))
    XCTAssertEqual(claims.release(vm: vm), [function("00:05.0")])
    XCTAssertEqual(claims.pendingResets, [function("00:05.0")])
    XCTAssertEqual(claims.functions(of: vm), [], "an ended VM owns nothing in its status")
    XCTAssertEqual(claims.release(vm: vm), [], "released once")
    XCTAssertEqual(
      string(claims.claim([function("00:05.0")], for: Array("b".utf8), host: host, reserved: [])),
      "0000:00:05.0: is being reset after VM a ended; retry in a moment")
    claims.resetDone(function("00:05.0"))
    XCTAssertTrue(claims.pendingResets.isEmpty)
    XCTAssertNil(
      claims.claim([function("00:05.0")], for: Array("b".utf8), host: host, reserved: []))
    XCTAssertEqual(string(claims.owner(of: function("00:05.0"))), "b")
  }

  func testAtMostFourPerVM() {
    var claims = PassthroughClaims()
    let names = ["00:01.0", "00:02.0", "00:03.0", "00:04.0", "00:05.0"].map(function)
    let host = names.map { PassthroughClaims.HostFunction(address: $0, isBridge: false) }
    XCTAssertEqual(
      string(claims.claim(names, for: Array("a".utf8), host: host, reserved: [])),
      "a VM owns at most 4 PCI functions")
    XCTAssertNil(
      claims.claim(Array(names.prefix(4)), for: Array("a".utf8), host: host, reserved: []))
    XCTAssertEqual(claims.owners.count, 4)
  }
}
