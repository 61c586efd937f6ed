import ArgumentParser
import Foundation

/// How `node up` connects its nodes (docs/cli.md, "Network modes").
public enum NodeNetwork: String, Codable, CaseIterable, ExpressibleByArgument {
  /// Each node on a QEMU user-mode network (slirp) of its own, reached through a forwarded
  /// host UDP port. No privileges; nodes cannot reach each other.
  case user
  /// Every node on one tap of a Linux bridge that the host is on too: the host reaches a
  /// node at its own address, and nodes reach each other. Needs CAP_NET_ADMIN.
  case bridge
}

/// What one node's NIC is attached to, as its emulator is told.
public enum NodeAttachment: Equatable {
  /// Slirp forwarding 127.0.0.1:`hostPort` to the node's control port.
  case user(hostPort: UInt16)
  /// A tap device already on the bridge (`script=no`: the CLI set it up with `ip`).
  case tap(name: String)
}

/// The bridge mode's names, addresses and `ip` commands (iproute2). Pure: the commands are
/// run by `HostBridge` through `NodeLauncher.runIP`, so they are unit-tested as lists.
public enum BridgeNetwork {
  public static let bridgeName = "pgbr0"
  /// The host's side of the bridge, which is every node's gateway.
  public static let hostAddress = "10.0.3.1"
  public static let prefixLength = 24
  /// Linux's CAP_NET_ADMIN (include/uapi/linux/capability.h): creating links and taps.
  static let netAdminCapability = 12

  public static func tapName(forNode index: Int) -> String { "pgtap\(index)" }

  /// Node K is 10.0.3.(K+2): .1 is the host; `node up` allows at most 64 nodes, so .65 at most.
  public static func nodeHost(forNode index: Int) -> String { "10.0.3.\(index + 2)" }

  public static func nodeAddress(forNode index: Int) -> String {
    "\(nodeHost(forNode: index))/\(prefixLength)"
  }

  /// `ip link show dev NAME`: exit status 0 when the link exists.
  public static func showLink(_ name: String) -> [String] { ["link", "show", "dev", name] }

  /// The bridge, with the host's address on it, up. STP stays off (the default), so a port
  /// forwards as soon as it is up.
  public static var createBridge: [[String]] {
    [
      ["link", "add", "name", bridgeName, "type", "bridge"],
      ["addr", "add", "\(hostAddress)/\(prefixLength)", "dev", bridgeName],
      ["link", "set", "dev", bridgeName, "up"],
    ]
  }

  public static func createTap(_ tap: String) -> [[String]] {
    [
      ["tuntap", "add", "dev", tap, "mode", "tap"],
      ["link", "set", "dev", tap, "master", bridgeName, "up"],
    ]
  }

  /// `ip -o link show master pgbr0`: one line per port still on the bridge.
  public static var listPorts: [String] { ["-o", "link", "show", "master", bridgeName] }

  public static func deleteLink(_ name: String) -> [String] { ["link", "del", "dev", name] }

  /// What `node down` deletes, in order: the taps this CLI made, then the bridge if it made
  /// it and no other port is left on it (`otherPorts`: ports that are not among `taps`).
  public static func cleanup(taps: [String], bridgeMade: Bool, otherPorts: Int) -> [[String]] {
    taps.map(deleteLink) + (bridgeMade && otherPorts == 0 ? [deleteLink(bridgeName)] : [])
  }

  /// Whether /proc/self/status's `CapEff:` line (hexadecimal) holds CAP_NET_ADMIN.
  public static func hasNetAdmin(procStatus: String) -> Bool {
    for line in procStatus.split(separator: "\n") where line.hasPrefix("CapEff:") {
      let hex = line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces)
      guard let mask = UInt64(hex, radix: 16) else { return false }
      return mask & (1 << UInt64(netAdminCapability)) != 0
    }
    return false
  }
}
