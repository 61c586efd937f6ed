/// QEMU's `edu` teaching device (QEMU docs/specs/edu.rst), which kvm-unit-tests' intel_iommu
/// test drives behind the virtual VT-d unit (`edu=on`, docs/virtual-iommu.md): PCI 1234:11e8
/// revision 0x10, class ff/00, a 1 MiB memory BAR 0, INTA#, and an MSI capability (one
/// vector, 64-bit address, no masking). BAR 0 registers:
///
/// | offset | |
/// |---|---|
/// | 0x00 | identification 0x010000ed (RO) |
/// | 0x04 | liveness: reads the bitwise inverse of what was written |
/// | 0x08 | factorial: a write computes the factorial of the value (32-bit, wrapping) |
/// | 0x20 | status: 0x01 computing (RO, never seen here: computed at once), 0x80 interrupt 0x01 after a factorial |
/// | 0x24 | interrupt status (RO); 0x60 raise (ORs the value in), 0x64 acknowledge (clears its bits) |
/// | 0x80, 0x88, 0x90 | DMA source, destination, count (4 or 8 bytes) |
/// | 0x98 | DMA command: 0x01 start, 0x02 direction (1: buffer to RAM), 0x04 interrupt 0x100 when done |
///
/// The DMA buffer is 4 KiB at device address 0x40000; the other side is a bus address
/// through `DeviceDMA` (an IOVA behind the vIOMMU). The transfer is done within the
/// command write, so the start bit reads clear afterwards (QEMU uses a 100 ms timer). A
/// transfer whose buffer side is out of range, larger than the buffer, or refused by the
/// bus (fault) moves nothing and is counted; a function without bus mastering does no DMA.
/// While the interrupt status is non-zero the function signals: one MSI per raise when MSI
/// is enabled, otherwise INTA# asserted (level) until acknowledged, unless INTx is disabled.
public final class EduDevice: VirtualPCIFunction {
  public static let vendorID: UInt16 = 0x1234
  public static let deviceID: UInt16 = 0x11E8
  public static let identification: UInt32 = 0x0100_00ED
  public static let barSize: UInt64 = 1 << 20
  public static let bufferAddress: UInt64 = 0x40000
  public static let bufferSize = 4096

  public var configuration: VirtualPCIConfiguration
  /// Offset of the MSI capability in configuration space.
  let msiCapability: Int
  let dma: DeviceDMA
  var messages: (any MessageSignaledInterruptSink)?
  var intx: InterruptLine?

  public private(set) var liveness: UInt32 = 0
  public private(set) var factorial: UInt32 = 0
  public private(set) var status: UInt32 = 0
  public private(set) var interruptStatus: UInt32 = 0
  public private(set) var dmaSource: UInt64 = 0
  public private(set) var dmaDestination: UInt64 = 0
  public private(set) var dmaCount: UInt64 = 0
  public private(set) var dmaCommand: UInt64 = 0
  public private(set) var buffer = [UInt8](repeating: 0, count: EduDevice.bufferSize)
  /// Transfers done and refused.
  public private(set) var transfers: UInt64 = 0
  public private(set) var refusedTransfers: UInt64 = 0

  public init(dma: DeviceDMA) {
    self.dma = dma
    configuration = VirtualPCIConfiguration(
      vendorID: Self.vendorID, deviceID: Self.deviceID, classCode: 0xFF, subclass: 0x00,
      revision: 0x10, subsystemVendorID: 0x1AF4, subsystemID: 0x1100, interruptPin: 1)
    configuration.declareBAR(0, VirtualBAR(.memory32, size: Self.barSize), at: 0)
    // MSI (PCI Local Bus 3.0 §6.8.1): message control (enable, bit 0; 64-bit, bit 7), address
    // low, address high, data; the guest writes the enable bit, the address and the data.
    msiCapability = configuration.addCapability(
      id: 0x05, body: [0x80, 0x00] + [UInt8](repeating: 0, count: 12),
      writableBody: [0x01, 0x00, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
  }

  public func connectInterrupts(_ messages: any MessageSignaledInterruptSink, intx: InterruptLine?)
  {
    if self.messages == nil { self.messages = messages }
    self.intx = intx
  }

  /// Sends its MSIs through `sink` instead (the vIOMMU's remapping, set after attach).
  public func routeMessages(through sink: any MessageSignaledInterruptSink) { messages = sink }

  var msiEnabled: Bool { configuration.read(offset: msiCapability + 2, size: 2) & 1 != 0 }

  // MARK: BAR 0

  public func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 {
    guard index == 0 else { return 0 }
    // As QEMU's: 4-byte accesses below 0x80, 4 or 8 from 0x80; others read all ones.
    guard size == 4 || (size == 8 && offset >= 0x80) else { return UInt64.max }
    let value: UInt64
    switch offset {
    case 0x00: value = UInt64(Self.identification)
    case 0x04: value = UInt64(liveness)
    case 0x08: value = UInt64(factorial)
    case 0x20: value = UInt64(status)
    case 0x24: value = UInt64(interruptStatus)
    case 0x80: value = dmaSource
    case 0x88: value = dmaDestination
    case 0x90: value = dmaCount
    case 0x98: value = dmaCommand
    default: return size == 8 ? UInt64.max : 0xFFFF_FFFF
    }
    return size == 8 ? value : value & 0xFFFF_FFFF
  }

  public func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    guard index == 0, size == 4 || (size == 8 && offset >= 0x80) else { return .none }
    let word = UInt32(truncatingIfNeeded: value)
    switch offset {
    case 0x04: liveness = ~word
    case 0x08:
      factorial = Self.factorial(of: word)
      if status & 0x80 != 0 { raise(0x01) }
    case 0x20: status = word & 0x80
    case 0x60: raise(word)
    case 0x64: acknowledge(word)
    case 0x80: dmaSource = value
    case 0x88: dmaDestination = value
    case 0x90: dmaCount = value
    case 0x98:
      dmaCommand = value
      if value & 1 != 0 { runDMA() }
    default: break
    }
    return .none
  }

  static func factorial(of value: UInt32) -> UInt32 {
    var result: UInt32 = 1
    var factor = value
    while factor > 1 {
      result = result &* factor
      factor -= 1
    }
    return result
  }

  // MARK: DMA

  func runDMA() {
    defer { dmaCommand &= ~1 }
    let toRAM = dmaCommand & 2 != 0
    let deviceSide = toRAM ? dmaSource : dmaDestination
    let busSide = toRAM ? dmaDestination : dmaSource
    let count = dmaCount
    guard configuration.isBusMaster, count <= UInt64(Self.bufferSize),
      deviceSide >= Self.bufferAddress,
      deviceSide - Self.bufferAddress <= UInt64(Self.bufferSize) - count
    else {
      refusedTransfers &+= 1
      return
    }
    let start = Int(deviceSide - Self.bufferAddress)
    let length = Int(count)
    if toRAM {
      guard dma.write(Array(buffer[start..<(start + length)]), at: busSide) else {
        refusedTransfers &+= 1
        return
      }
    } else {
      guard let bytes = dma.read(length, at: busSide) else {
        refusedTransfers &+= 1
        return
      }
      buffer.replaceSubrange(start..<(start + length), with: bytes)
    }
    transfers &+= 1
    if dmaCommand & 4 != 0 { raise(0x100) }
  }

  // MARK: Interrupts

  func raise(_ bits: UInt32) {
    interruptStatus |= bits
    guard interruptStatus != 0 else { return }
    if msiEnabled {
      let base = msiCapability
      let address =
        UInt64(configuration.read(offset: base + 4, size: 4))
        | UInt64(configuration.read(offset: base + 8, size: 4)) << 32
      messages?.signal(address: address, data: configuration.read(offset: base + 12, size: 2))
    } else if configuration.commandRegister & (1 << 10) == 0 {
      intx?.setLevel(high: true)
    }
  }

  func acknowledge(_ bits: UInt32) {
    interruptStatus &= ~bits
    if interruptStatus == 0 && !msiEnabled { intx?.setLevel(high: false) }
  }
}
