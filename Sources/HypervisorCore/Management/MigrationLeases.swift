/// The node's migration leases (docs/migration.md, "A CLI that dies"): a migration is driven
/// by the CLI, and a CLI killed midway would leave the source's dirty log on (and the VM
/// paused, in the stop phase) and the target's incoming copy holding its memory. Each side
/// of a migration therefore holds a lease that the CLI's requests about the VM renew; when
/// one lapses the node undoes its side by itself: the source stops the log and resumes a VM
/// the migration paused, the target destroys a copy that never started.
///
/// Split brain: the commit is the target's `restoreState` (the copy starts there). Just
/// before it the CLI hands the source's copy over (`dirtyLog handOver`); a handed-over copy
/// never resumes by itself, so at most one copy ever runs. A CLI that dies between the two
/// leaves the VM paused on the source (nothing lost; `peregrine unpause` resumes it): two
/// nodes that never talk to each other cannot both learn whether the restore arrived.
///
/// Pure bookkeeping, in milliseconds of any clock; the kernel (ManagerControl) acts on what
/// `expire` answers.
public struct MigrationLeases {
  public enum Role: Equatable {
    /// The VM runs here and its memory is being copied away (dirty log on).
    case source
    /// An incoming copy being filled here, not started yet.
    case target
  }

  public struct Lease: Equatable {
    public var name: [UInt8]
    public var role: Role
    public var deadline: UInt64
    public var length: UInt64
    /// Paused while the lease held (the stop phase): resumed when it lapses.
    public var pausedForMigration = false
    /// The target is about to start it: never resumed by the lease.
    public var handedOver = false
  }

  /// What a lapsed lease asks of the node.
  public enum Expiry: Equatable {
    /// Dirty log off; unpause the VM when `resume`.
    case abandonSource(name: [UInt8], resume: Bool)
    /// Destroy the incoming copy (if it is still incoming).
    case destroyIncoming(name: [UInt8])
  }

  /// Longer than the CLI's longest silence towards a node in a migration (a request to a
  /// node that stopped answering waits 7.75 s of retransmissions, then the next one goes).
  public static let defaultMilliseconds: UInt64 = 30_000
  /// A lease asked shorter than this gets this (a CLI's test hook, not a way to make the
  /// node abandon a migration between two requests).
  public static let shortestMilliseconds: UInt64 = 1_000
  /// And no longer than this: a lease is a bound on how long a dead CLI costs.
  public static let longestMilliseconds: UInt64 = 600_000

  public private(set) var leases: [Lease] = []

  public init() {}

  private func index(_ name: [UInt8]) -> Int? { leases.firstIndex { $0.name == name } }

  public func lease(of name: [UInt8]) -> Lease? { index(name).map { leases[$0] } }

  /// A migration's side starts here (dirty log on; an incoming copy created).
  public mutating func begin(_ name: [UInt8], role: Role, now: UInt64) {
    end(name)
    let length = Self.defaultMilliseconds
    leases.append(Lease(name: name, role: role, deadline: now &+ length, length: length))
  }

  /// Any request about a leased VM from the CLI renews its lease.
  public mutating func renew(_ name: [UInt8], now: UInt64) {
    guard let at = index(name) else { return }
    leases[at].deadline = now &+ leases[at].length
  }

  /// The CLI asks for another length (clamped); renews. False: no lease.
  @discardableResult
  public mutating func setLength(_ name: [UInt8], milliseconds: UInt64, now: UInt64) -> Bool {
    guard let at = index(name) else { return false }
    let length = min(max(milliseconds, Self.shortestMilliseconds), Self.longestMilliseconds)
    leases[at].length = length
    leases[at].deadline = now &+ length
    return true
  }

  public mutating func paused(_ name: [UInt8]) {
    guard let at = index(name), leases[at].role == .source else { return }
    leases[at].pausedForMigration = true
  }

  public mutating func unpaused(_ name: [UInt8]) {
    guard let at = index(name) else { return }
    leases[at].pausedForMigration = false
  }

  /// The source's copy is about to be replaced by the target's. False: no source lease.
  @discardableResult
  public mutating func handOver(_ name: [UInt8]) -> Bool {
    guard let at = index(name), leases[at].role == .source else { return false }
    leases[at].handedOver = true
    return true
  }

  /// The migration's side ended (log stopped, copy started or destroyed, VM destroyed).
  public mutating func end(_ name: [UInt8]) {
    leases.removeAll { $0.name == name }
  }

  /// The leases past their deadline, removed, as what the node must do.
  public mutating func expire(now: UInt64) -> [Expiry] {
    var due: [Expiry] = []
    leases.removeAll { lease in
      guard now >= lease.deadline else { return false }
      switch lease.role {
      case .source:
        due.append(
          .abandonSource(name: lease.name, resume: lease.pausedForMigration && !lease.handedOver))
      case .target:
        due.append(.destroyIncoming(name: lease.name))
      }
      return true
    }
    return due
  }

  /// The earliest deadline (nil: no lease).
  public var nextDeadline: UInt64? { leases.map { $0.deadline }.min() }
}
