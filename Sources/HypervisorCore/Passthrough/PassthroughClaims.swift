/// Which VM owns which host PCI function (docs/passthrough.md): the node's one table, so a
/// function is given to at most one VM, never to a VM while the node itself drives it (its
/// management or data NIC), and never when it is a bridge (whose secondary bus holds other
/// functions). Claims are made before a VM is built; when the VM is released its functions
/// wait for their reset (bus mastering off, function-level reset), done on the CPU that
/// owns configuration space, and are free again only after it.
public struct PassthroughClaims {
  /// A function the node found on its PCI bus.
  public struct HostFunction: Equatable {
    public var address: PassthroughFunction
    /// Header layout 1 or 2 (PCI-to-PCI or CardBus bridge; PCI Local Bus 3.0 §6.1).
    public var isBridge: Bool
    /// Host bridges (class 06.00) and ISA bridges (06.01) are the platform's own.
    public var isPlatform: Bool

    public init(address: PassthroughFunction, isBridge: Bool, isPlatform: Bool = false) {
      self.address = address
      self.isBridge = isBridge
      self.isPlatform = isPlatform
    }
  }

  /// A function the node keeps for itself, and what it is ("the node's management NIC").
  public struct Reserved {
    public var address: PassthroughFunction
    public var role: StaticString

    public init(address: PassthroughFunction, role: StaticString) {
      self.address = address
      self.role = role
    }
  }

  public struct Owner: Equatable {
    public var function: PassthroughFunction
    public var vm: [UInt8]
    /// The VM was released; the function waits for its reset.
    public var ending: Bool
  }

  public private(set) var owners: [Owner] = []

  /// How many functions one VM may own (the wire's limit too).
  public static let maximumPerVM = 4

  public init() {}

  /// The VM owning `function`, if any.
  public func owner(of function: PassthroughFunction) -> [UInt8]? {
    owners.first { $0.function == function }?.vm
  }

  /// The functions `vm` owns, in the order they were claimed.
  public func functions(of vm: [UInt8]) -> [PassthroughFunction] {
    owners.filter { $0.vm == vm && !$0.ending }.map { $0.function }
  }

  /// Functions whose VM was released and which wait for their reset.
  public var pendingResets: [PassthroughFunction] {
    owners.filter { $0.ending }.map { $0.function }
  }

  /// Why `functions` can't all go to `vm` (the first reason, as a sentence naming the
  /// function), or nil after every one was recorded as `vm`'s. Nothing is recorded when one
  /// is refused.
  public mutating func claim(
    _ functions: [PassthroughFunction], for vm: [UInt8], host: [HostFunction],
    reserved: [Reserved]
  ) -> [UInt8]? {
    if functions.count > Self.maximumPerVM {
      return Array("a VM owns at most 4 PCI functions".utf8)
    }
    if owners.contains(where: { $0.vm == vm && !$0.ending }) {
      return Array("a VM of that name still owns PCI functions (it is ending)".utf8)
    }
    for (index, function) in functions.enumerated() {
      func refuse(_ why: StaticString) -> [UInt8] {
        function.text + Array(": ".utf8)
          + Array(UnsafeBufferPointer(start: why.utf8Start, count: why.utf8CodeUnitCount))
      }
      if functions[..<index].contains(function) { return refuse("named twice") }
      if function.segment != 0 {
        return refuse("only PCI segment 0 can be passed through (the node's config mechanism #1)")
      }
      guard let found = host.first(where: { $0.address == function }) else {
        return refuse("no such PCI function on this node")
      }
      if let kept = reserved.first(where: { $0.address == function }) {
        return refuse(kept.role)
      }
      if found.isBridge {
        return refuse("is a PCI bridge: the functions behind it are not the VM's")
      }
      if found.isPlatform {
        return refuse("is the platform's host or ISA bridge")
      }
      if let other = owners.first(where: { $0.function == function }) {
        if other.ending {
          return refuse("is being reset after VM ") + other.vm
            + Array(" ended; retry in a moment".utf8)
        }
        return refuse("already owned by VM ") + other.vm
      }
    }
    for function in functions { owners.append(Owner(function: function, vm: vm, ending: false)) }
    return nil
  }

  /// `vm` was released (or never built): its functions wait for their reset. Returns them.
  @discardableResult
  public mutating func release(vm: [UInt8]) -> [PassthroughFunction] {
    var released: [PassthroughFunction] = []
    for index in owners.indices where owners[index].vm == vm && !owners[index].ending {
      owners[index].ending = true
      released.append(owners[index].function)
    }
    return released
  }

  /// `function` was reset: it is free for the next VM.
  public mutating func resetDone(_ function: PassthroughFunction) {
    owners.removeAll { $0.function == function && $0.ending }
  }
}
