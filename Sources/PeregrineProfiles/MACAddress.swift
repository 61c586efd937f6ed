/// A NIC's 48-bit Ethernet address, written `02:00:00:00:00:01` (colons or hyphens).
///
/// IEEE 802-2014 clause 8.2: bit 0 of the first octet (I/G) set makes the address a group
/// (multicast or broadcast) address, which no station may use as its own; all zeros is no
/// address. Bit 1 (U/L) set marks a locally administered address, the right kind for VMs.
public struct MACAddress: Equatable, Hashable, CustomStringConvertible, Sendable {
  public var octets: [UInt8]

  public enum ParseError: Error, Equatable {
    case syntax
    case multicast
    case allZero
  }

  public init(octets: [UInt8]) {
    precondition(octets.count == 6)
    self.octets = octets
  }

  public static func parse(_ text: String) -> Result<MACAddress, ParseError> {
    let separator: Character = text.contains("-") ? "-" : ":"
    let parts = text.split(separator: separator, omittingEmptySubsequences: false)
    guard parts.count == 6 else { return .failure(.syntax) }
    var octets: [UInt8] = []
    for part in parts {
      guard part.count == 2, let octet = UInt8(part, radix: 16) else { return .failure(.syntax) }
      octets.append(octet)
    }
    if octets.allSatisfy({ $0 == 0 }) { return .failure(.allZero) }
    if octets[0] & 0x01 != 0 { return .failure(.multicast) }
    return .success(MACAddress(octets: octets))
  }

  public var isLocallyAdministered: Bool { octets[0] & 0x02 != 0 }

  public var description: String {
    octets.map { byte in
      let digits = String(byte, radix: 16)
      return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: ":")
  }
}
