/// The CLI's exit codes (docs/cli.md), from sysexits.h where one fits so scripts can tell
/// failures apart.
public enum ExitStatus: Int32, CaseIterable {
  case success = 0
  /// Anything else: a local file or emulator that failed, an interrupted wait.
  case failure = 1
  /// A bad command line (EX_USAGE; what swift-argument-parser uses).
  case usage = 64
  /// The profile is invalid (EX_DATAERR): the errors name file:line:column.
  case invalidProfile = 65
  /// A file named on the command line or in a profile cannot be read (EX_NOINPUT).
  case noInput = 66
  /// No VM of that name on any node (EX_NOUSER, "addressee unknown").
  case noSuchMachine = 67
  /// A node did not answer in time (EX_UNAVAILABLE).
  case unreachable = 69
  /// This build cannot do it (EX_SOFTWARE): the control protocol is not wired in.
  case notSupported = 70
  /// The node's answer could not be understood (EX_PROTOCOL): versions differ.
  case protocolMismatch = 76
  /// The node answered and refused: the request changed nothing (EX_NOPERM).
  case refused = 77
  /// No cluster: no nodes are up, or the key is missing (EX_CONFIG).
  case noCluster = 78
  /// An image of that name is already in the store (EX_CANTCREAT).
  case cannotCreate = 73

  /// The case's name in snake_case ("invalid_profile"), as `--json` errors give it.
  public var name: String {
    "\(self)".reduce(into: "") { name, character in
      if character.isUppercase {
        name += "_" + character.lowercased()
      } else {
        name.append(character)
      }
    }
  }

  public var meaning: String {
    switch self {
    case .success: return "success"
    case .failure: return "failure (local files, emulators, interrupted waits)"
    case .usage: return "usage error: the command line is wrong"
    case .invalidProfile: return "invalid profile"
    case .noInput: return "a file cannot be read"
    case .noSuchMachine: return "no VM of that name"
    case .unreachable: return "a node did not answer in time"
    case .notSupported: return "not supported by this build"
    case .protocolMismatch: return "a node's answer could not be understood"
    case .refused: return "refused by the node (nothing changed)"
    case .noCluster: return "no cluster: run `peregrine node up`"
    case .cannotCreate: return "an image of that name is already in the store"
    }
  }
}

/// An error the CLI reports itself: one message (what happened and what to do) and its exit
/// status.
public struct CLIError: Error, Equatable {
  public var status: ExitStatus
  public var message: String
  /// Printed after the message: what to do about it.
  public var hint: String?
  /// Already printed (e.g. a profile's diagnostics): nothing more to say.
  public var reported: Bool

  public init(_ status: ExitStatus, _ message: String, hint: String? = nil, reported: Bool = false)
  {
    self.status = status
    self.message = message
    self.hint = hint
    self.reported = reported
  }

  /// A node's failure, worded for the user.
  public init(_ error: NodeError, stateDirectory: String) {
    switch error {
    case .unreachable(let node, let waited):
      self.init(
        .unreachable, "node \(node) did not answer within \(Formatting.seconds(waited))",
        hint:
          "check that it runs (`peregrine nodes`) and read its log; `peregrine node up` restarts nodes that died"
      )
    case .refused(let node, let reason):
      self.init(
        .refused, "node \(node) refused the request: \(reason)",
        hint: "nothing was changed on the node")
    case .authenticationRefused(let node):
      self.init(
        .refused, "node \(node) refused the request's authentication",
        hint:
          "the cluster key in \(stateDirectory)/cluster.key is not the one the node booted with; `peregrine node down` then `peregrine node up` restarts the nodes with it"
      )
    case .noSuchMachine(let name):
      self.init(
        .noSuchMachine, "no VM named '\(name)' on any node", hint: "`peregrine list` shows the VMs")
    case .transferCutOff(let node, let file, let sent, let total):
      self.init(
        .unreachable,
        "the transfer of \(file) to node \(node) stopped after \(Formatting.bytes(sent)) of \(Formatting.bytes(total))",
        hint: "the node discarded the partial VM; run the command again")
    case .protocolMismatch(let node, let detail):
      self.init(
        .protocolMismatch,
        "node \(node) answered in a form this CLI does not understand: \(detail)",
        hint:
          "use the peregrine CLI of the same build as the node (`make cli`, then `peregrine node down` and `node up`)"
      )
    case .notWired:
      self.init(
        .notSupported,
        "this build of peregrine cannot talk to nodes yet: the control-protocol client is not wired in",
        hint: "`peregrine validate`, `node up` and `node down` work without it")
    }
  }
}
