import Foundation

/// Sets up and takes down the bridge mode's links on the host with `ip` (iproute2), through
/// `NodeLauncher.runIP`. It deletes only what it made: a bridge or tap that was already
/// there is used and left alone.
struct HostBridge {
  let launcher: NodeLauncher

  /// Fails before anything is made when this process cannot create links.
  func checkPrivileges() throws {
    guard launcher.hasNetAdmin() else {
      throw CLIError(
        .failure,
        "--network bridge needs CAP_NET_ADMIN to create the bridge \(BridgeNetwork.bridgeName) and a tap per node; this process does not have it, so no node was started",
        hint: "run `peregrine node up` as root (sudo), or use `--network user` (the default)")
    }
  }

  func exists(_ link: String) throws -> Bool {
    try launcher.runIP(BridgeNetwork.showLink(link)).status == 0
  }

  /// Creates the bridge if it is absent; whether it did.
  func ensureBridge() throws -> Bool {
    if try exists(BridgeNetwork.bridgeName) { return false }
    try run(BridgeNetwork.createBridge)
    return true
  }

  /// Creates `tap` on the bridge if it is absent; whether it did. A tap that is already
  /// there is put on the bridge and up (a leftover of an earlier run, say).
  func ensureTap(_ tap: String) throws -> Bool {
    if try exists(tap) {
      try run([BridgeNetwork.createTap(tap)[1]])
      return false
    }
    try run(BridgeNetwork.createTap(tap))
    return true
  }

  /// The names of the links on the bridge now.
  func ports() throws -> [String] {
    let result = try launcher.runIP(BridgeNetwork.listPorts)
    guard result.status == 0 else { return [] }
    return result.output.split(separator: "\n").compactMap { line in
      // "7: pgtap0: <BROADCAST,...> ..." (or "pgtap0@if3:" for paired links).
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count > 1 else { return nil }
      return String(fields[1].dropLast().split(separator: "@").first ?? "")
    }
  }

  /// Deletes the taps this CLI made, then the bridge if it made it and nothing else is on
  /// it; the links deleted.
  func tearDown(taps: [String], bridgeMade: Bool) throws -> [String] {
    let others = bridgeMade ? try ports().filter { !taps.contains($0) }.count : 0
    let commands = BridgeNetwork.cleanup(taps: taps, bridgeMade: bridgeMade, otherPorts: others)
    var deleted: [String] = []
    for command in commands {
      let link = command.last ?? ""
      // A tap that is already gone (the host rebooted, someone deleted it) is not an error.
      guard try exists(link) else { continue }
      try run([command])
      deleted.append(link)
    }
    return deleted
  }

  private func run(_ commands: [[String]]) throws {
    for arguments in commands {
      let result = try launcher.runIP(arguments)
      guard result.status == 0 else {
        throw CLIError(
          .failure,
          "`ip \(arguments.joined(separator: " "))` failed (exit \(result.status)): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))",
          hint: "`peregrine node down` removes what this command made")
      }
    }
  }
}
