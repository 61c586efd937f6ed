import BootProtocols
import CArch
import HypervisorCore
import NetworkProtocols
import PCI
import Synchronization

/// The node's own network: the NIC found on the PCI bus, the IPv4 stack on it, and the UDP
/// services bound to its ports. It belongs to the bootstrap processor: brought up at boot,
/// serviced by CPU 0's scheduler loop between slices and when its NIC interrupts (MSI-X
/// vector `vector` to CPU 0), never by another CPU, so cores running guests elsewhere see
/// no work and no exits from it (docs/management-network.md). A node without `ip=` on its
/// command line, or without a NIC, has none, and behaves as before.
enum ManagementNetwork {
  /// The NIC's receive interrupt, delivered to CPU 0 only.
  static let vector: UInt8 = 0x40
  /// Frames taken from the NIC per service call: a flood cannot keep CPU 0 from its own
  /// vCPUs for longer than this many frames' work.
  static let batch = 128
  /// Without MSI-X the NIC is polled this often while CPU 0 sleeps, in milliseconds; and
  /// unanswered ARP requests are retried on this tick.
  static let pollMilliseconds: UInt64 = 10

  /// The one node network, or nil. Only CPU 0 reads or writes it after boot.
  nonisolated(unsafe) static var node: NetworkNode?
  /// Set by the NIC's interrupt handler, cleared by the service.
  static let interruptPending = Atomic<Bool>(false)

  /// Finds the NIC and brings the network up as the command line says:
  /// `ip=A.B.C.D/N [gw=A.B.C.D]` or `ip=dhcp` (RFC 2131), `netecho` binds the UDP echo
  /// service, `nettest` the test service.
  static func start(commandLine line: [UInt8]) {
    let configured = NetworkConfiguration.parse(
      ip: KernelCommandLine.value(of: "ip", in: line),
      gateway: KernelCommandLine.value(of: "gw", in: line))
    guard case .success(let wanted) = configured, wanted != nil else {
      // No network wanted (or a refused ip=, reported below): the bus is walked only for
      // a debug log, so a node without ip= boots exactly as before.
      if Log.enabled(.debug) { PCIBus.log(PCIBus.enumerate(), level: .debug) }
      if case .failure(let problem) = configured {
        Log.begin(.error)
        Console.write("net: ip=/gw= refused: ")
        Console.write(describe(problem))
        Log.end()
      }
      return
    }
    let functions = PCIBus.enumerate()
    PCIBus.log(functions, level: nil)
    let interface: InterfaceAddress?
    switch wanted {
    case nil: return
    case .dhcp: interface = nil
    case .staticAddress(let address): interface = address
    }
    guard let device = startNIC(functions) else { return }
    let node = NetworkNode(device: device, interface: interface)
    if KernelCommandLine.contains(flag: "netecho", in: line) {
      node.bind(port: UDPEchoService.port, UDPEchoService())
    }
    if KernelCommandLine.contains(flag: "nettest", in: line) {
      node.bind(port: NetTestService.port, NetTestService())
    }
    self.node = node
    if Log.begin(.info) {
      Console.write("net: ")
      Console.write(device.model)
      Console.write(" ")
      NetLog.mac(device.mac)
      Console.write(" up, address ")
      if let interface {
        NetLog.ipv4(interface.address)
        Console.write("/")
        Console.write(decimal: UInt64(interface.prefix))
        if let gateway = interface.gateway {
          Console.write(" gateway ")
          NetLog.ipv4(gateway)
        }
      } else {
        Console.write("by DHCP")
      }
      Console.write(device.usesInterrupts ? ", MSI-X vector " : ", polled")
      if device.usesInterrupts { Console.write(decimal: UInt64(vector)) }
      Console.write(" on cpu 0")
      for port in node.stack.boundPorts {
        Console.write(", udp ")
        Console.write(decimal: UInt64(port))
      }
      Log.end()
    }
    node.startDHCP(now: milliseconds())
  }

  /// The first NIC with a driver: modern virtio-net, else an Intel 8254x (Bochs).
  private static func startNIC(_ functions: [PCIFunction]) -> (any NetworkInterfaceCard)? {
    // The data NIC's slot is the guest switch's uplink (DataNetwork), never the node's own.
    if let nic = functions.first(where: {
      VirtioPCIIdentity.isNetwork(vendor: $0.header.vendorID, device: $0.header.deviceID)
        && !DataNetwork.isDataSlot($0)
    }) {
      switch VirtioNetDevice.start(nic, apicID: CPUs.all[0].apicID) {
      case .success(let device):
        PassthroughDevices.reserve(nic.address, role: "is the node's management NIC")
        return device
      case .failure(let problem):
        refused(nic, "virtio-net", describe(problem))
        return nil
      }
    }
    if let nic = functions.first(where: {
      E1000Identity.matches(vendor: $0.header.vendorID, device: $0.header.deviceID)
    }) {
      switch E1000Device.start(nic) {
      case .success(let device):
        PassthroughDevices.reserve(nic.address, role: "is the node's management NIC")
        return device
      case .failure(let problem):
        refused(nic, "e1000", describe(problem))
        return nil
      }
    }
    Log.error("net: ip= given, but no NIC with a driver (virtio-net 1af4:1041, e1000 8086:100e)")
    return nil
  }

  private static func refused(_ nic: PCIFunction, _ model: StaticString, _ why: StaticString) {
    Log.begin(.error)
    Console.write("net: ")
    Console.write(model)
    Console.write(" at pci ")
    NetLog.hex(UInt64(nic.address.bus), digits: 2)
    Console.write(":")
    NetLog.hex(UInt64(nic.address.device), digits: 2)
    Console.write(" not started: ")
    Console.write(why)
    Log.end()
  }

  /// Whether CPU 0 must keep a host tick while it runs a guest: a polled NIC is looked at
  /// only between slices.
  static var needsPollTicks: Bool {
    if DataNetwork.needsPollTicks { return true }
    guard let node else { return false }
    return !node.device.usesInterrupts
  }

  /// The NIC's interrupt (on CPU 0): note it, and end the slice of a guest CPU 0 may be
  /// running so the scheduler services the network next.
  static func interrupt() {
    interruptPending.store(true, ordering: .releasing)
    CPUs.current.timer.expired = true
  }

  /// CPU 0's scheduler calls this on every pass: the guest switch's blocked transmit queues
  /// (one uncontended lock when none is blocked), then one relaxed load when there is no
  /// network.
  @inline(__always)
  static func service() {
    DataNetwork.service()
    guard let node else { return }
    node.service(now: milliseconds())
  }

  /// When CPU 0 must wake up for the network though nothing interrupts: the next poll
  /// (no MSI-X) or ARP retry; nil when only an interrupt can bring work.
  static func wakeDeadline() -> UInt64? {
    if let due = DataNetwork.wakeDeadline() { return due }
    guard let node else { return nil }
    if !node.device.usesInterrupts || node.stack.awaitsARP {
      return arch_rdtsc() &+ pollMilliseconds &* LocalAPIC.tscPerMillisecond
    }
    // DHCP's retransmissions and renewal need a clock: once a second is enough.
    if node.dhcp != nil { return arch_rdtsc() &+ 1000 &* LocalAPIC.tscPerMillisecond }
    return nil
  }

  /// Whether CPU 0 has network work now (checked before it sleeps).
  static var hasWork: Bool {
    if DataNetwork.hasWork { return true }
    guard let node else { return false }
    return interruptPending.load(ordering: .acquiring) || node.device.hasReceived
  }

  static func milliseconds() -> UInt64 {
    arch_rdtsc() / max(LocalAPIC.tscPerMillisecond, 1)
  }

  private static func describe(_ problem: NetworkConfiguration.Problem) -> StaticString {
    switch problem {
    case .badAddress: "ip= is not a usable A.B.C.D address"
    case .badPrefix: "ip= needs a prefix length /1 to /30"
    case .badGateway: "gw= is not a usable A.B.C.D address"
    case .gatewayOutsideSubnet: "gw= is outside ip='s subnet"
    case .gatewayWithDHCP: "gw= with ip=dhcp"
    }
  }

  private static func describe(_ problem: VirtioNetDevice.Problem) -> StaticString {
    switch problem {
    case .missingStructure: "no common, notify or device capability"
    case .barNotMemory: "a structure's BAR is not memory"
    case .cannotMap: "a BAR could not be mapped"
    case .resetTimedOut: "the device did not reset"
    case .notModern: "the device does not offer VIRTIO_F_VERSION_1 (legacy only)"
    case .featuresRefused: "the device refused the features (FEATURES_OK cleared)"
    case .queueUnavailable: "a queue is unavailable, too small, or refused its MSI-X vector"
    case .outOfMemory: "no memory for the queues"
    }
  }

  private static func describe(_ problem: E1000Device.Problem) -> StaticString {
    switch problem {
    case .noRegisterWindow: "BAR0 is not a memory window"
    case .cannotMap: "BAR0 could not be mapped"
    case .noMAC: "no valid MAC in RAL0/RAH0 or the EEPROM"
    case .outOfMemory: "no memory for the rings"
    }
  }
}
