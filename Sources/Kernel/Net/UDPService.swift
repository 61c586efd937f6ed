import NetworkProtocols

/// A service bound to a UDP port of the node (`ManagementNetwork.bind`): it gets every
/// datagram for its port, on CPU 0, between guest slices; what it returns goes back to
/// the sender's address and port as one datagram. The control protocol plugs in here.
protocol UDPService: AnyObject {
  func received(_ datagram: ReceivedDatagram) -> [UInt8]?
}

/// RFC 862's echo over UDP, on port 7 when the command line says `netecho`: the payload
/// goes back unchanged.
final class UDPEchoService: UDPService {
  static let port: UInt16 = 7
  private(set) var echoed: UInt64 = 0

  func received(_ datagram: ReceivedDatagram) -> [UInt8]? {
    echoed &+= 1
    return datagram.payload
  }
}
