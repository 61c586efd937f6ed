import Glibc

/// A UDP socket, connected to one peer (the client) or bound to a local port (a responder).
public final class UDPSocket {
  private let descriptor: Int32

  /// A socket whose datagrams go to, and come only from, `host:port`.
  public init(connectingTo host: String, port: UInt16) throws(ControlClientError) {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
    var results: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &results) == 0, let first = results else {
      throw .unresolvedHost(host)
    }
    defer { freeaddrinfo(results) }
    descriptor = socket(first.pointee.ai_family, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw .socket("socket", errno) }
    guard connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
      let error = errno
      close(descriptor)
      throw .socket("connect", error)
    }
  }

  /// A socket bound to `127.0.0.1:port` (0: any free port; see `localPort`).
  public init(bindingToLoopbackPort port: UInt16) throws(ControlClientError) {
    descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw .socket("socket", errno) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let status = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard status == 0 else {
      let error = errno
      close(descriptor)
      throw .socket("bind", error)
    }
  }

  deinit { close(descriptor) }

  public var localPort: UInt16 {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
  }

  public func send(_ bytes: [UInt8]) throws(ControlClientError) {
    // A refused datagram (ECONNREFUSED: an ICMP port unreachable from an earlier send) is
    // a lost one to the retransmission logic, not an error.
    guard Glibc.send(descriptor, bytes, bytes.count, 0) >= 0 || errno == ECONNREFUSED else {
      throw .socket("send", errno)
    }
  }

  /// The next datagram, or nil when none came within `timeout` milliseconds.
  public func receive(timeout: UInt64) throws(ControlClientError) -> [UInt8]? {
    guard try wait(timeout: timeout) else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = recv(descriptor, &buffer, buffer.count, 0)
    if count < 0 {
      if errno == ECONNREFUSED || errno == EINTR || errno == EAGAIN { return nil }
      throw .socket("recv", errno)
    }
    return Array(buffer[..<count])
  }

  /// A datagram and its sender's address (for a responder), or nil after `timeout`.
  public func receiveFrom(timeout: UInt64) throws(ControlClientError) -> ([UInt8], sockaddr_in)? {
    guard try wait(timeout: timeout) else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let count = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        recvfrom(descriptor, &buffer, buffer.count, 0, $0, &length)
      }
    }
    guard count >= 0 else { throw .socket("recvfrom", errno) }
    return (Array(buffer[..<count]), address)
  }

  public func send(_ bytes: [UInt8], to address: sockaddr_in) throws(ControlClientError) {
    var address = address
    let count = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard count >= 0 else { throw .socket("sendto", errno) }
  }

  private func wait(timeout: UInt64) throws(ControlClientError) -> Bool {
    var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    let ready = poll(&request, 1, Int32(min(timeout, UInt64(Int32.max))))
    if ready < 0 {
      if errno == EINTR { return false }
      throw .socket("poll", errno)
    }
    return ready > 0
  }
}
