/// The virtio device models' own saved state (docs/vm-state.md, "PCI and virtio"); the
/// queues, features and status are the transport's (VirtioPCIFunction+State). Counters and
/// statistics are the node's measurements, not state.

extension VirtioBlockDevice: StatefulDevice {
  /// The disk's capacity and read-only flag say how the device was built (compared on
  /// restore, not restored: the disk image moves separately); the negotiated features and a
  /// queue fault that stopped serving are state.
  public struct State: Equatable {
    public var capacity: UInt64 = 0
    public var readOnly = false
    public var negotiatedFeatures: UInt64 = 0
    public var needsReset = false

    public init() {}
  }

  public func save() -> State {
    var state = State()
    state.capacity = capacity
    state.readOnly = readOnly
    state.negotiatedFeatures = negotiatedFeatures
    state.needsReset = needsReset
    return state
  }

  public func restore(_ state: State) {
    negotiatedFeatures = state.negotiatedFeatures
    needsReset = state.needsReset
  }

  public func savedDevice() -> SavedDevice? { .virtioBlock(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .virtioBlock(let state) = saved else { return false }
    restore(state)
    return true
  }
}

extension VirtioNetDevice: StatefulDevice {
  /// The MAC (how the NIC was built: compared on restore) and a receive-side fault not yet
  /// reported to the transport (it is, at the next doorbell). The link status is always up;
  /// frames in flight are the network's, not state: one arriving during the move is lost,
  /// as on a wire, and so is a transmit frame held for room (`transmitHeldAtSave`).
  public struct State: Equatable {
    public var mac: UInt64 = 0
    public var receiveFault: VirtqueueFault? = nil

    public init(mac: UInt64 = 0, receiveFault: VirtqueueFault? = nil) {
      self.mac = mac
      self.receiveFault = receiveFault
    }
  }

  public func save() -> State {
    releaseHeldFrameForSave()
    return State(mac: mac, receiveFault: receiveLock.withLock { receiveFault })
  }

  public func restore(_ state: State) {
    receiveLock.withLock { receiveFault = state.receiveFault }
  }

  public func savedDevice() -> SavedDevice? { .virtioNet(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .virtioNet(let state) = saved else { return false }
    restore(state)
    return true
  }
}

extension VirtioEntropyDevice: StatefulDevice {
  /// Nothing: its queue is the transport's and its entropy is drawn fresh.
  public struct State: Equatable {
    public init() {}
  }

  public func save() -> State { State() }
  public func restore(_ state: State) {}

  public func savedDevice() -> SavedDevice? { .virtioEntropy(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .virtioEntropy = saved else { return false }
    return true
  }
}
