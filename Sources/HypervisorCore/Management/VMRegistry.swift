/// The node's live VMs by identity and name, and where each is in its lifecycle: the VM
/// manager's bookkeeping, without the machine. Every command is checked here first; a
/// refused one changes nothing. An identity and a name are free again only once the VM is
/// `gone` (released).
public struct VMRegistry {
  public struct Entry: Equatable {
    public let id: Int
    public let name: [UInt8]
    public internal(set) var lifecycle: VMLifecycle
  }

  private var pool: VMIdentifierPool
  public private(set) var entries: [Entry] = []

  public init(capacity: Int) {
    pool = VMIdentifierPool(capacity: capacity)
  }

  public var capacity: Int { pool.capacity }

  /// Takes an identity for a new VM called `name`, in `creating`.
  public mutating func reserve(name: [UInt8]) -> Result<Int, ManagementRefusal> {
    guard !entries.contains(where: { $0.name == name }) else { return .failure(.nameInUse) }
    guard let id = pool.acquire() else { return .failure(.noFreeIdentity) }
    entries.append(Entry(id: id, name: name, lifecycle: .creating))
    return .success(id)
  }

  /// Moves VM `id` by `event`; a VM that becomes `gone` leaves the table and its identity
  /// returns to the pool.
  @discardableResult
  public mutating func apply(_ event: VMLifecycle.Event, to id: Int)
    -> Result<VMLifecycle, ManagementRefusal>
  {
    guard let index = entries.firstIndex(where: { $0.id == id }) else {
      return .failure(.unknownVM)
    }
    let result = entries[index].lifecycle.applying(event)
    guard case .success(let next) = result else { return result }
    if next == .gone {
      entries.remove(at: index)
      pool.release(id)
    } else {
      entries[index].lifecycle = next
    }
    return result
  }

  /// Checks that `event` could apply to VM `id` now, without applying it.
  public func check(_ event: VMLifecycle.Event, for id: Int) -> ManagementRefusal? {
    guard let entry = entries.first(where: { $0.id == id }) else { return .unknownVM }
    if case .failure(let refusal) = entry.lifecycle.applying(event) { return refusal }
    return nil
  }

  public func lifecycle(of id: Int) -> VMLifecycle? {
    entries.first { $0.id == id }?.lifecycle
  }

  public func id(named name: [UInt8]) -> Int? {
    entries.first { $0.name == name }?.id
  }

  public var availableIdentities: Int { pool.available }
}
