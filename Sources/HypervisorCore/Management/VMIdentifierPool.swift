/// VM identities for a running node: small numbers handed out lowest first and given back
/// only once the VM is gone (every vCPU detached, its address space released), so an
/// identity never names two live VMs. Placement, gang slots and reports key VMs by it.
public struct VMIdentifierPool: Equatable {
  /// Identities `0 ..< capacity`.
  public let capacity: Int
  private var inUse: [Bool]

  public init(capacity: Int) {
    self.capacity = max(capacity, 0)
    inUse = [Bool](repeating: false, count: self.capacity)
  }

  /// The lowest free identity, now taken; nil when every one is in use.
  public mutating func acquire() -> Int? {
    guard let id = inUse.firstIndex(of: false) else { return nil }
    inUse[id] = true
    return id
  }

  /// Gives `id` back. Returns false (and changes nothing) for an identity not in use.
  @discardableResult
  public mutating func release(_ id: Int) -> Bool {
    guard id >= 0, id < capacity, inUse[id] else { return false }
    inUse[id] = false
    return true
  }

  public func isInUse(_ id: Int) -> Bool { id >= 0 && id < capacity && inUse[id] }

  public var available: Int { inUse.reduce(0) { $1 ? $0 : $0 + 1 } }
}
