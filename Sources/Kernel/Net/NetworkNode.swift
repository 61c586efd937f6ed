import CArch
import NetworkProtocols
import Synchronization

/// The NIC, the stack on it, and the services bound to its ports: the node's network
/// state, owned by CPU 0 (`ManagementNetwork.node`).
final class NetworkNode {
  let device: any NetworkInterfaceCard
  private(set) var stack: NetworkStack
  private var services: [(port: UInt16, service: any UDPService)] = []
  /// Datagrams a service answered.
  private(set) var replies: UInt64 = 0
  /// TSC cycles CPU 0 spent in `service` calls that found frames, and those calls.
  private(set) var serviceCycles: UInt64 = 0
  private(set) var busyServices: UInt64 = 0

  init(device: any NetworkInterfaceCard, interface: InterfaceAddress) {
    self.device = device
    stack = NetworkStack(mac: device.mac, interface: interface)
  }

  /// Binds `service` to UDP `port`; false if the port is taken.
  @discardableResult
  func bind(port: UInt16, _ service: any UDPService) -> Bool {
    guard stack.bind(port: port) else { return false }
    services.append((port, service))
    return true
  }

  /// Sends one datagram from the node's `port` (not necessarily bound) to `address`:`to`.
  /// False when it could not be queued (no route, too long, the NIC's queue full); a
  /// datagram waiting for ARP counts as sent.
  @discardableResult
  func send(_ payload: [UInt8], from port: UInt16, to address: IPv4Address, port to: UInt16)
    -> Bool
  {
    let before = stack.counters
    let frames = stack.sendUDP(
      payload, from: port, to: address, port: to, now: ManagementNetwork.milliseconds())
    var sent = true
    for frame in frames where !device.send(frame) { sent = false }
    return sent && stack.counters.totalDropped == before.totalDropped
      && stack.counters.unresolvedDrops == before.unresolvedDrops
  }

  /// Takes what the NIC received (at most a batch), answers what the stack answers,
  /// delivers datagrams to their services and sends their replies; then the ARP tick.
  func service(now: UInt64) {
    ManagementNetwork.interruptPending.store(false, ordering: .relaxed)
    let start = arch_rdtsc()
    let frames = device.receiveFrames(limit: ManagementNetwork.batch) { frame in
      let result = stack.receive(frame, now: now)
      for reply in result.transmit { device.send(reply) }
      guard let datagram = result.datagram,
        let entry = services.first(where: { $0.port == datagram.destinationPort })
      else { return }
      if let answer = entry.service.received(datagram) {
        replies &+= 1
        send(answer, from: datagram.destinationPort, to: datagram.source, port: datagram.sourcePort)
      }
    }
    if frames > 0 {
      serviceCycles &+= arch_rdtsc() &- start
      busyServices &+= 1
    }
    if device.hasReceived { ManagementNetwork.interruptPending.store(true, ordering: .relaxed) }
    if stack.awaitsARP {
      for frame in stack.tick(now: now) { device.send(frame) }
    }
  }
}
