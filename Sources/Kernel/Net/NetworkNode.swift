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

  /// The DHCP client when the address comes from DHCP (`ip=dhcp`).
  private(set) var dhcp: DHCPClient?

  /// `interface` nil: the address comes from DHCP.
  init(device: any NetworkInterfaceCard, interface: InterfaceAddress?) {
    self.device = device
    stack = NetworkStack(mac: device.mac, interface: interface)
    if interface == nil {
      // The transaction ID from the MAC and the TSC: differs between nodes and boots.
      let seed = UInt32(truncatingIfNeeded: device.mac.value ^ (arch_rdtsc() >> 8))
      dhcp = DHCPClient(mac: device.mac, transaction: seed)
      stack.bind(port: DHCPMessage.clientPort)
    }
  }

  /// Starts DHCP (when in use): the first DISCOVER.
  func startDHCP(now: UInt64) {
    guard var client = dhcp else { return }
    let action = client.start(now: now)
    dhcp = client
    perform(action)
  }

  private func perform(_ action: DHCPClient.Action) {
    switch action {
    case .broadcast(let payload):
      if let frame = stack.broadcastUDP(
        payload, from: DHCPMessage.clientPort, port: DHCPMessage.serverPort)
      {
        device.send(frame)
      }
    case .unicast(let payload, let server):
      send(payload, from: DHCPMessage.clientPort, to: server, port: DHCPMessage.serverPort)
    case .bound(let interface, let seconds, let server):
      let changed = stack.interface != interface
      stack.configure(interface)
      guard changed, Log.begin(.info) else { return }
      Console.write("net: DHCP lease ")
      NetLog.ipv4(interface.address)
      Console.write("/")
      Console.write(decimal: UInt64(interface.prefix))
      if let gateway = interface.gateway {
        Console.write(" gateway ")
        NetLog.ipv4(gateway)
      }
      Console.write(" from ")
      NetLog.ipv4(server)
      Console.write(" for ")
      Console.write(decimal: UInt64(seconds))
      Console.write(" s")
      Log.end()
    case .lost:
      stack.configure(nil)
      Log.warning("net: DHCP lease lost: no address until a server answers again")
    }
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
      guard let datagram = result.datagram else { return }
      if datagram.destinationPort == DHCPMessage.clientPort, var client = dhcp {
        let action = client.receive(datagram.payload, now: now)
        dhcp = client
        if let action { perform(action) }
        return
      }
      guard let entry = services.first(where: { $0.port == datagram.destinationPort }) else {
        return
      }
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
    if var client = dhcp {
      let action = client.tick(now: now)
      dhcp = client
      if let action { perform(action) }
    }
  }
}
