import XCTest

@testable import NetworkProtocols

final class NetworkConfigurationTests: XCTestCase {
  private func parse(_ ip: String?, _ gw: String? = nil) -> Result<
    NetworkConfiguration?, NetworkConfiguration.Problem
  > {
    NetworkConfiguration.parse(ip: ip.map { Array($0.utf8) }, gateway: gw.map { Array($0.utf8) })
  }

  func testStaticAddressWithGateway() {
    XCTAssertEqual(
      try parse("10.0.2.15/24", "10.0.2.2").get(),
      .staticAddress(
        InterfaceAddress(
          address: IPv4Address(10, 0, 2, 15), prefix: 24, gateway: IPv4Address(10, 0, 2, 2))))
  }

  func testNoIPIsNoNetworkAndDHCPIsAccepted() {
    XCTAssertEqual(try parse(nil, "10.0.2.2").get(), nil)
    XCTAssertEqual(try parse("dhcp").get(), .dhcp)
    XCTAssertEqual(parse("dhcp", "10.0.2.2").failure, .gatewayWithDHCP)
  }

  func testRefusals() {
    XCTAssertEqual(parse("10.0.2.15").failure, .badPrefix)
    XCTAssertEqual(parse("10.0.2.15/").failure, .badPrefix)
    XCTAssertEqual(parse("10.0.2.15/33").failure, .badPrefix)
    XCTAssertEqual(parse("10.0.2.15/2x").failure, .badPrefix)
    XCTAssertEqual(parse("10.0.2/24").failure, .badAddress)
    XCTAssertEqual(parse("10.0.2.256/24").failure, .badAddress)
    XCTAssertEqual(parse("10.0.2.0015/24").failure, .badAddress)
    XCTAssertEqual(parse("10.0.2.0/24").failure, .badAddress)
    XCTAssertEqual(parse("10.0.2.255/24").failure, .badAddress)
    XCTAssertEqual(parse("10.0.2.15/24", "10.0.3.1").failure, .gatewayOutsideSubnet)
    XCTAssertEqual(parse("10.0.2.15/24", "10.0.2").failure, .badGateway)
    XCTAssertEqual(parse("10.0.2.15/24", "10.0.2.15").failure, .badGateway)
  }

  func testDottedQuadEdges() {
    XCTAssertEqual(IPv4Address(dotted: Array("0.0.0.0".utf8)[...]), IPv4Address(0))
    XCTAssertEqual(IPv4Address(dotted: Array("255.255.255.255".utf8)[...]), .broadcast)
    XCTAssertNil(IPv4Address(dotted: Array("1..2.3".utf8)[...]))
    XCTAssertNil(IPv4Address(dotted: Array("1.2.3.4.".utf8)[...]))
    XCTAssertNil(IPv4Address(dotted: Array("".utf8)[...]))
  }
}
