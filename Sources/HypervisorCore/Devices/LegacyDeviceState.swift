/// The 8259 pair's and the pc-testdev's saved state (docs/vm-state.md). Restoring raises or
/// delivers nothing: the line levels are restored in every controller they reach (the I/O
/// APIC's own record holds its line levels), and INTR follows from the restored registers.

extension PIC8259Pair: StatefulDevice {
  /// Both chips whole (PIC8259 is a value): IRR, ISR, IMR, input levels, ELCR, vector base,
  /// priority, the ICW sequence position and the OCW3 modes.
  public struct State: Equatable {
    public var master = PIC8259()
    public var slave = PIC8259()

    public init(master: PIC8259 = PIC8259(), slave: PIC8259 = PIC8259()) {
      self.master = master
      self.slave = slave
    }
  }

  public func save() -> State { State(master: master, slave: slave) }

  public func restore(_ state: State) {
    master = state.master
    slave = state.slave
  }

  public func savedDevice() -> SavedDevice? { .pic(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .pic(let state) = saved else { return false }
    restore(state)
    return true
  }
}

extension PCTestDevice: StatefulDevice {
  /// The data register at 0xE0 and the levels of the 24 interrupt lines (ports 0x2000+).
  public struct State: Equatable {
    public var data: UInt32 = 0
    public var lineLevels: UInt32 = 0

    public init(data: UInt32 = 0, lineLevels: UInt32 = 0) {
      self.data = data
      self.lineLevels = lineLevels
    }
  }

  public func save() -> State { State(data: data, lineLevels: lineLevels) }

  public func restore(_ state: State) {
    data = state.data
    lineLevels = state.lineLevels & 0xFF_FFFF
  }

  public func savedDevice() -> SavedDevice? { .pcTestDevice(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .pcTestDevice(let state) = saved else { return false }
    restore(state)
    return true
  }
}

extension PCTestIORAM: StatefulDevice {
  /// The 64 KiB window's bytes.
  public struct State: Equatable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8] = [UInt8](repeating: 0, count: Int(PCTestDevice.ioRAMSize))) {
      self.bytes = bytes
    }
  }

  public func save() -> State { State(bytes: bytes) }

  /// A state of another size leaves the window as it is.
  public func restore(_ state: State) {
    guard state.bytes.count == bytes.count else { return }
    bytes = state.bytes
  }

  public func savedDevice() -> SavedDevice? { .pcTestIORAM(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .pcTestIORAM(let state) = saved else { return false }
    restore(state)
    return true
  }
}
