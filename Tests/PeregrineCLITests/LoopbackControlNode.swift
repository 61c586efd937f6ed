import ControlProtocol
import Foundation
import XCTest

/// A node of the test's own on loopback for the CLI's real connection: a thread that
/// answers with `ControlReceiver`, as the kernel's control server does. It answers up to
/// `count` datagrams, until 2 s pass without one.
final class LoopbackControlNode: @unchecked Sendable {
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
