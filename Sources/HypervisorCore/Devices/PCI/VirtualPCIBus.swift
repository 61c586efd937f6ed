/// A function on a VM's virtual PCI bus: its configuration space and what its BARs decode.
public protocol VirtualPCIFunction: AnyObject {
  var configuration: VirtualPCIConfiguration { get set }
  /// A guest read of `size` bytes at `offset` inside memory BAR `index`.
  func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64
  func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect
  /// Called once when the function is attached to a VM (PCIPlatform.attach): where its MSI
  /// and MSI-X messages go, and the I/O APIC input its INTx pin drives (nil without a pin).
  /// The default ignores both.
  func connectInterrupts(_ messages: any MessageSignaledInterruptSink, intx: InterruptLine?)
  /// Its records in a VM's saved state (docs/vm-state.md), under the VM's device lock. The
  /// default: its configuration space alone (`SavedDevice.pciFunction`).
  func savedDevices() -> [SavedDevice]
  /// Takes back what `savedDevices()` gave (on this node or another), while no vCPU runs:
  /// false when the records are not its kinds, and then nothing changed.
  func restore(savedDevices saved: ArraySlice<SavedDevice>) -> Bool
}

extension VirtualPCIFunction {
  public func connectInterrupts(_ messages: any MessageSignaledInterruptSink, intx: InterruptLine?)
  {}

  public func savedDevices() -> [SavedDevice] {
    [.pciFunction(PCIFunctionState(configuration: configuration.savedImage))]
  }

  public func restore(savedDevices saved: ArraySlice<SavedDevice>) -> Bool {
    guard saved.count == 1, let only = saved.first, case .pciFunction(let state) = only else {
      return false
    }
    var restored = configuration
    restored.restore(image: state.configuration)
    configuration = restored
    return true
  }
}

/// A VM's PCI segment 0, bus 0: configuration space through the legacy mechanism on ports
/// 0xCF8/0xCFC (PCI Local Bus 3.0 §3.2.2.3.2) and through ECAM (PCI Express Base 4.0 §7.2.2,
/// named to the guest by an MCFG table), and the memory BARs' decoding: a guest access in
/// the VM's MMIO window goes to the function whose enabled BAR holds it, wherever the guest
/// moved that BAR. Absent functions read all ones. Accesses are serialized by the VM's device
/// lock, as every device model's.
public final class VirtualPCIBus: PortDevice {
  public static let addressPort: UInt16 = 0xCF8
  public static let dataPort: UInt16 = 0xCFC
  /// Devices 0-31, function 0 each (no multi-function devices).
  private var functions: [(any VirtualPCIFunction)?] = [(any VirtualPCIFunction)?](
    repeating: nil, count: 32)
  /// The legacy mechanism's address register (bit 31 enable, 23:16 bus, 15:11 device, 10:8
  /// function, 7:2 register).
  public internal(set) var addressLatch: UInt32 = 0
  /// Bits 1:0 of the last address written, which the register reads back as 0 (§3.2.2.3.2)
  /// but which QEMU ORs into the data window's byte offset; kvm-unit-tests' PCI library
  /// relies on it (it writes register 2 to 0xCF8 and reads 0xCFC for the device ID). Not
  /// in the saved state: it matters only between the two accesses of one guest read.
  private var addressLowBits: UInt32 = 0

  public init() {}

  /// Puts `function` in slot `device` (0-31) of bus 0.
  public func attach(_ function: any VirtualPCIFunction, device: Int) {
    precondition(device >= 0 && device < 32 && functions[device] == nil, "a slot holds one")
    functions[device] = function
  }

  public func function(at device: Int) -> (any VirtualPCIFunction)? {
    device >= 0 && device < 32 ? functions[device] : nil
  }

  // MARK: Configuration mechanism #1 (ports 0xCF8-0xCFF)

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    if port == Self.addressPort && size == 4 { return addressLatch }
    guard port >= Self.dataPort, addressLatch & (1 << 31) != 0 else {
      return VirtualPCIConfiguration.allOnes(Int(size))
    }
    let register = Int(addressLatch & 0xFC | addressLowBits) | Int(port - Self.dataPort)
    return readConfiguration(
      bus: Int(addressLatch >> 16) & 0xFF, device: Int(addressLatch >> 11) & 31,
      function: Int(addressLatch >> 8) & 7, offset: register, size: Int(size))
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    if port == Self.addressPort {
      // Only a doubleword write sets the address; byte writes to 0xCF8-0xCFB are other
      // chipset registers (Linux's type-1 probe writes 0xCFB), ignored here.
      if size == 4 {
        addressLatch = value & 0x80FF_FFFC
        addressLowBits = value & 3
      }
      return .none
    }
    guard port >= Self.dataPort, addressLatch & (1 << 31) != 0 else { return .none }
    let register = Int(addressLatch & 0xFC | addressLowBits) | Int(port - Self.dataPort)
    writeConfiguration(
      bus: Int(addressLatch >> 16) & 0xFF, device: Int(addressLatch >> 11) & 31,
      function: Int(addressLatch >> 8) & 7, offset: register, size: Int(size), value: value)
    return .none
  }

  /// A saved address register taken back (its bits 1:0 were not saved: 0).
  func restoreAddressLatch(_ latch: UInt32) {
    addressLatch = latch & 0x80FF_FFFC
    addressLowBits = 0
  }

  // MARK: ECAM (offsets inside the MCFG window)

  public func readECAM(offset: UInt64, size: UInt8) -> UInt64 {
    let (bus, device, function, register) = Self.split(offset)
    return UInt64(
      readConfiguration(
        bus: bus, device: device, function: function, offset: register, size: Int(size)))
  }

  public func writeECAM(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    let (bus, device, function, register) = Self.split(offset)
    writeConfiguration(
      bus: bus, device: device, function: function, offset: register, size: Int(size),
      value: UInt32(truncatingIfNeeded: value))
    return .none
  }

  /// ECAM address bits (§7.2.2): 27:20 bus, 19:15 device, 14:12 function, 11:0 register.
  static func split(_ offset: UInt64) -> (Int, Int, Int, Int) {
    (Int(offset >> 20) & 0xFF, Int(offset >> 15) & 31, Int(offset >> 12) & 7, Int(offset & 0xFFF))
  }

  // MARK: Memory BARs

  /// The function and BAR decoding guest-physical `address` (with memory decoding on), and
  /// the offset inside that BAR.
  public func decoder(of address: UInt64, length: UInt64) -> (
    function: any VirtualPCIFunction, bar: Int, offset: UInt64
  )? {
    for case let function? in functions where function.configuration.decodesMemory {
      let configuration = function.configuration
      for index in 0..<6 {
        guard let bar = configuration.bars[index], bar.kind != .io,
          let base = configuration.address(ofBAR: index), address >= base,
          address - base < bar.size, length <= bar.size - (address - base)
        else { continue }
        return (function, index, address - base)
      }
    }
    return nil
  }

  /// A guest read in the MMIO window: all ones where no BAR decodes it.
  public func readMemory(address: UInt64, size: UInt8) -> UInt64 {
    guard let (function, bar, offset) = decoder(of: address, length: UInt64(size)) else {
      return size >= 8 ? UInt64.max : (1 << (8 * UInt64(size))) - 1
    }
    return function.readBAR(bar, offset: offset, size: size)
  }

  public func writeMemory(address: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    guard let (function, bar, offset) = decoder(of: address, length: UInt64(size)) else {
      return .none
    }
    return function.writeBAR(bar, offset: offset, size: size, value: value)
  }

  // MARK: Both mechanisms

  private func readConfiguration(bus: Int, device: Int, function: Int, offset: Int, size: Int)
    -> UInt32
  {
    guard bus == 0, function == 0, let target = functions[device] else {
      return VirtualPCIConfiguration.allOnes(size)
    }
    return target.configuration.read(offset: offset, size: size)
  }

  private func writeConfiguration(
    bus: Int, device: Int, function: Int, offset: Int, size: Int, value: UInt32
  ) {
    guard bus == 0, function == 0, let target = functions[device] else { return }
    _ = target.configuration.write(offset: offset, size: size, value: value)
  }
}

/// Bus 0, device 0: the host bridge a guest expects first (class 06/00). It decodes nothing.
public final class VirtualHostBridge: VirtualPCIFunction {
  public var configuration = VirtualPCIConfiguration(
    vendorID: 0x1B36, deviceID: 0x0008, classCode: 0x06, subclass: 0x00)

  public init() {}

  public func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 { 0 }
  public func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    .none
  }
}
