import HypervisorCore
import NetworkProtocols

/// The integration tests' hook (command line `nettest`, never on by default), like the
/// `selftest=` words: on UDP port 9 a datagram "peregrine-nettest-end" prints the
/// network's counters and every VM's exit count, and ends the run with success, so a test
/// that drove the node from the host can judge it from the console. "peregrine-nettest-
/// counters" answers with "received=N dropped=N replies=N".
final class NetTestService: UDPService {
  static let port: UInt16 = 9
  static let relayCommand = Array("peregrine-nettest-relay ".utf8)
  /// Node-to-node: "peregrine-nettest-relay A.B.C.D" makes this node send a datagram to
  /// A.B.C.D's echo port (resolving its MAC by ARP); what comes back from there is passed
  /// to whoever asked, prefixed "relayed: ".
  private var relay: (asker: IPv4Address, askerPort: UInt16, target: IPv4Address)?

  func received(_ datagram: ReceivedDatagram) -> [UInt8]? {
    guard let node = ManagementNetwork.node else { return nil }
    if let relay, datagram.source == relay.target, datagram.sourcePort == UDPEchoService.port {
      node.send(
        Array("relayed: ".utf8) + datagram.payload, from: Self.port, to: relay.asker,
        port: relay.askerPort)
      return nil
    }
    if datagram.payload.starts(with: Self.relayCommand) {
      guard
        let target = IPv4Address(
          dotted: datagram.payload[Self.relayCommand.count...])
      else { return Array("relay: bad address".utf8) }
      relay = (datagram.source, datagram.sourcePort, target)
      node.send(
        Array("node to node".utf8), from: Self.port, to: target, port: UDPEchoService.port)
      return nil
    }
    if datagram.payload == Array("peregrine-nettest-counters".utf8) {
      let counters = node.stack.counters
      return Array(
        ("received=" + decimal(counters.framesReceived) + " dropped="
          + decimal(counters.totalDropped) + " replies=" + decimal(node.replies)).utf8)
    }
    guard datagram.payload == Array("peregrine-nettest-end".utf8) else { return nil }
    Console.together {
      NetworkReport.print(node)
      // Other CPUs' run queues change only when a VM arrives or ends there; the guests in
      // these tests run to the end of the run, so reading them here is safe enough for a test.
      var seen: [ObjectIdentifier] = []
      for cpu in CPUs.all {
        for entry in cpu.runQueue where !seen.contains(ObjectIdentifier(entry.vm)) {
          seen.append(ObjectIdentifier(entry.vm))
          Console.write("net: vm ")
          Console.write(bytes: entry.vm.name)
          Console.write(" exits so far: ")
          Console.write(decimal: entry.vm.totalStatistics().totalExits)
          Console.write("\n")
        }
      }
    }
    Machine.halt(status: .success)
  }

  private func decimal(_ value: UInt64) -> String {
    var digits: [UInt8] = []
    var rest = value
    repeat {
      digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
      rest /= 10
    } while rest > 0
    return String(decoding: digits.reversed(), as: UTF8.self)
  }
}

/// The network's counters on the console.
enum NetworkReport {
  static func print(_ node: NetworkNode) {
    let counters = node.stack.counters
    // Each count followed by what it counts, on one line.
    let counts: [(UInt64, StaticString)] = [
      (counters.framesReceived, " frames received, "), (counters.framesSent, " sent, "),
      (counters.datagramsDelivered, " datagrams delivered, "), (node.replies, " answered, "),
      (counters.arpRepliesSent, " ARP replies, "), (counters.arpRequestsSent, " ARP requests, "),
      (counters.echoRepliesSent, " ICMP echo replies, "), (counters.totalDropped, " dropped, "),
      (counters.unresolvedDrops, " unresolved, "),
      (node.device.transmitFull, " not sent (transmit queue full)\n"),
    ]
    Console.write("net: ")
    for (value, label) in counts {
      Console.write(decimal: value)
      Console.write(label)
    }
    Console.write("net: ")
    Console.write(decimal: node.serviceCycles)
    Console.write(" TSC cycles on cpu 0 in ")
    Console.write(decimal: node.busyServices)
    Console.write(" service passes that found frames\n")
    for reason in DropReason.allCases where counters.dropped(reason) > 0 {
      Console.write("net: dropped ")
      Console.write(reason.name)
      Console.write(": ")
      Console.write(decimal: counters.dropped(reason))
      Console.write("\n")
    }
  }
}
