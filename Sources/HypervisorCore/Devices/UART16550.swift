/// A 16550A UART as the guest sees it on COM1 (registers per the PC16550D data sheet).
/// Output only, no interrupts: transmitted bytes go straight to the console sink, tagged
/// with the VM's name, and the transmitter always reads empty, so a polling driver never
/// waits. Divisor, line and modem control read back what was written, as drivers check.
public final class UART16550: PortDevice {
  public let base: UInt16
  private let sink: any ConsoleSink
  private let vmName: [UInt8]
  private var interruptEnable: UInt8 = 0
  private var lineControl: UInt8 = 0x03
  private var modemControl: UInt8 = 0
  private var scratch: UInt8 = 0
  private var divisor: UInt16 = 1
  private var fifoControl: UInt8 = 0
  public private(set) var transmitted: UInt64 = 0
  /// IRQ 4, where the platform wires one: the transmitter-empty interrupt for drivers that
  /// send from their interrupt handler (Linux's 8250 driver does, for everything but the
  /// kernel console).
  public var interruptLine: InterruptLine?
  private var transmitterEmptyPending = false

  public init(base: UInt16 = 0x3F8, sink: any ConsoleSink, vmName: [UInt8]) {
    self.base = base
    self.sink = sink
    self.vmName = vmName
  }

  private var divisorLatch: Bool { lineControl & 0x80 != 0 }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    switch port &- base {
    case 0: return divisorLatch ? UInt32(divisor & 0xFF) : 0  // RBR: nothing ever received
    case 1: return divisorLatch ? UInt32(divisor >> 8) : UInt32(interruptEnable)
    case 2:
      // IIR: THR empty (0x02) while that interrupt is pending, which reading IIR clears
      // (PC16550D, Table 4); otherwise none pending (0x01). Bits 7:6 show the FIFOs.
      let fifos: UInt32 = fifoControl & 1 != 0 ? 0xC0 : 0
      if transmitterEmptyPending {
        transmitterEmptyPending = false
        return fifos | 0x02
      }
      return fifos | 0x01
    case 3: return UInt32(lineControl)
    case 4: return UInt32(modemControl)
    case 5: return 0x60  // LSR: THR and transmitter empty
    case 6: return modemControl & 0x10 != 0 ? 0xF0 : 0xB0  // MSR: loopback echoes, else DCD|DSR|CTS
    default: return UInt32(scratch)
    }
  }

  private func transmitterEmpty() {
    guard interruptEnable & 0x02 != 0 else { return }
    transmitterEmptyPending = true
    if modemControl & 0x08 != 0 { interruptLine?.pulse() }  // OUT2 gates the PC's IRQ line
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    let byte = UInt8(truncatingIfNeeded: value)
    switch port &- base {
    case 0:
      if divisorLatch {
        divisor = divisor & 0xFF00 | UInt16(byte)
      } else {
        transmitted &+= 1
        sink.write(byte, from: vmName)
        transmitterEmpty()  // the byte is gone at once: THR is empty again
      }
    case 1:
      if divisorLatch {
        divisor = divisor & 0x00FF | UInt16(byte) << 8
      } else {
        let enabling = byte & 0x02 != 0 && interruptEnable & 0x02 == 0
        interruptEnable = byte & 0x0F
        if enabling { transmitterEmpty() }  // enabling ETBEI with THR empty interrupts at once
      }
    case 2: fifoControl = byte
    case 3: lineControl = byte
    case 4: modemControl = byte & 0x1F
    case 7: scratch = byte
    default: break
    }
    return .none
  }
}

extension UART16550: StatefulDevice {
  /// The registers a driver wrote, the count of bytes sent and a pending THR-empty
  /// interrupt. Nothing is ever received and bytes leave at once, so the FIFOs hold nothing.
  public struct State: Equatable {
    public var interruptEnable: UInt8 = 0
    public var lineControl: UInt8 = 0x03
    public var modemControl: UInt8 = 0
    public var scratch: UInt8 = 0
    public var divisor: UInt16 = 1
    public var fifoControl: UInt8 = 0
    public var transmitted: UInt64 = 0
    public var transmitterEmptyPending = false

    public init() {}
  }

  public func save() -> State {
    var state = State()
    state.interruptEnable = interruptEnable
    state.lineControl = lineControl
    state.modemControl = modemControl
    state.scratch = scratch
    state.divisor = divisor
    state.fifoControl = fifoControl
    state.transmitted = transmitted
    state.transmitterEmptyPending = transmitterEmptyPending
    return state
  }

  public func restore(_ state: State) {
    interruptEnable = state.interruptEnable & 0x0F
    lineControl = state.lineControl
    modemControl = state.modemControl & 0x1F
    scratch = state.scratch
    divisor = state.divisor
    fifoControl = state.fifoControl
    transmitted = state.transmitted
    transmitterEmptyPending = state.transmitterEmptyPending
  }
}
