/// The node's address as its command line gives it: `ip=A.B.C.D/N [gw=A.B.C.D]`, or
/// `ip=dhcp`.
public enum NetworkConfiguration: Equatable {
  case staticAddress(InterfaceAddress)
  case dhcp

  /// Why a command line's network words were refused.
  public enum Problem: Error, Equatable {
    case badAddress
    case badPrefix
    case badGateway
    case gatewayOutsideSubnet
    case gatewayWithDHCP
  }

  /// `ip` and `gw` are the values of the `ip=` and `gw=` words (nil when absent). No `ip=`
  /// is no network (nil), whatever `gw=` says.
  public static func parse(ip: [UInt8]?, gateway: [UInt8]?) -> Result<
    NetworkConfiguration?, Problem
  > {
    guard let ip else { return .success(nil) }
    if ip == Array("dhcp".utf8) {
      return gateway == nil ? .success(.dhcp) : .failure(.gatewayWithDHCP)
    }
    guard let slash = ip.firstIndex(of: UInt8(ascii: "/")) else {
      return .failure(.badPrefix)
    }
    guard let address = IPv4Address(dotted: ip[..<slash]) else { return .failure(.badAddress) }
    let digits = ip[(slash + 1)...]
    guard !digits.isEmpty, digits.count <= 2,
      digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    else { return .failure(.badPrefix) }
    let prefix = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    // /31 and /32 have no room for a host beside a gateway the usual way; refused for
    // simplicity, as are addresses that are the network or broadcast address.
    guard prefix >= 1, prefix <= 30 else { return .failure(.badPrefix) }
    let mask = IPv4Address.mask(prefix: prefix)
    guard address.value & ~mask != 0, address.value & ~mask != ~mask, !address.isMulticast
    else { return .failure(.badAddress) }
    var router: IPv4Address?
    if let gateway {
      guard let parsed = IPv4Address(dotted: gateway[...]), parsed != address else {
        return .failure(.badGateway)
      }
      guard parsed.value & mask == address.value & mask else {
        return .failure(.gatewayOutsideSubnet)
      }
      router = parsed
    }
    return .success(
      .staticAddress(InterfaceAddress(address: address, prefix: prefix, gateway: router)))
  }
}

/// An interface's IPv4 address, its subnet and default gateway.
public struct InterfaceAddress: Equatable {
  public var address: IPv4Address
  public var prefix: Int
  public var gateway: IPv4Address?

  public init(address: IPv4Address, prefix: Int, gateway: IPv4Address?) {
    self.address = address
    self.prefix = prefix
    self.gateway = gateway
  }

  public var mask: UInt32 { IPv4Address.mask(prefix: prefix) }

  public func isOnLink(_ other: IPv4Address) -> Bool {
    other.value & mask == address.value & mask
  }

  /// The subnet's broadcast address (RFC 919).
  public var subnetBroadcast: IPv4Address { IPv4Address(address.value | ~mask) }
}
