/// A VM's PCI platform (docs/guest-io.md): the virtual bus 0 with the host bridge at 00.0,
/// reached through ports 0xCF8-0xCFF (except 0xCF9, the reset control register) and through
/// a 1 MiB ECAM window for bus 0; the memory-BAR window the bus decodes; the VM's MSI
/// receiver; and the I/O APIC inputs INTx pins drive. Every VM with interrupt controllers
/// (Linux, multiboot, flat with apic=on) has one; its RAM must end at or below `ramCeiling`
/// so that nothing of the platform lies over RAM.
///
/// Functions are attached at VM build, before any vCPU runs (`attach`), as firmware would
/// find and configure them: a free slot, an address for every memory BAR, the interrupt
/// line, and the interrupt routes handed to the function.
public final class PCIPlatform {
  /// The memory-BAR window: [0xC000_0000, 0xE000_0000), in the 32-bit hole below the ECAM.
  public static let memoryWindowBase: UInt64 = 0xC000_0000
  public static let memoryWindowSize: UInt64 = 0x2000_0000
  /// ECAM for bus 0 only (PCI Express Base 4.0 §7.2.2: 1 MiB per bus).
  public static let ecamBase: UInt64 = 0xE000_0000
  public static let ecamSize: UInt64 = 0x10_0000
  /// Guest RAM must end here: the window starts where RAM would continue.
  public static let ramCeiling: UInt64 = memoryWindowBase
  /// INTx pins go to I/O APIC inputs 16-23 (above the ISA IRQs), swizzled by slot as
  /// bridges do (PCI-to-PCI Bridge 1.2 §9.1): GSI = 16 + (slot + pin) % 8, pin 0 = INTA.
  /// The guest's _PRT says the same (GuestPCIHostBridge).
  public static let firstINTxGSI = 16
  public static let intxGSICount = 8

  public let bus = VirtualPCIBus()
  public let messageSignaledInterrupts: VMMessageSignaledInterrupts
  /// The I/O APIC INTx pins drive (nil without one).
  public let ioAPIC: IOAPICModel?
  /// The device models in the VM's tables, for their access counts.
  public let configurationPorts: PCIConfigurationPorts
  public let configurationWindow: PCIConfigurationWindow
  public let memoryWindow: PCIMemoryWindow
  /// The lowest address in the memory window no BAR was given yet.
  public private(set) var nextBARAddress = memoryWindowBase

  init(vcpus: [VirtualCPU], ioAPIC: IOAPICModel?) {
    messageSignaledInterrupts = VMMessageSignaledInterrupts(vcpus: vcpus)
    self.ioAPIC = ioAPIC
    configurationPorts = PCIConfigurationPorts(bus: bus)
    configurationWindow = PCIConfigurationWindow(bus: bus)
    memoryWindow = PCIMemoryWindow(bus: bus, base: Self.memoryWindowBase)
    bus.attach(VirtualHostBridge(), device: 0)
  }

  /// The GSI INTx pin `pin` (1 = INTA ... 4 = INTD, as the Interrupt Pin register) of slot
  /// `slot` drives.
  public static func gsi(slot: Int, pin: UInt8) -> Int {
    firstINTxGSI + (slot + Int(pin) - 1) % intxGSICount
  }

  /// Gives `vm` its PCI platform: the bus with the host bridge, its ports and MMIO windows.
  /// Call after the VM's I/O APIC exists (`ioAPIC`, for INTx) and after any device on port
  /// 0xCF9; the VM's RAM must end at or below `ramCeiling` (checked by the loader).
  @discardableResult
  public static func install(in vm: VirtualMachine, ioAPIC: IOAPICModel?) -> PCIPlatform {
    let platform = PCIPlatform(vcpus: vm.vcpus, ioAPIC: ioAPIC)
    // A doubleword at 0xCF8 is the address register; 0xCF9 stays the reset control
    // register where the VM has one; 0xCFA-0xCFB byte writes (Linux's type-1 probe) are
    // the bus's to ignore; 0xCFC-0xCFF the data window (PCI Local Bus 3.0 §3.2.2.3.2).
    vm.ports.register(platform.configurationPorts, ports: 0xCF8...0xCF8)
    vm.ports.register(platform.configurationPorts, ports: 0xCFA...0xCFF)
    vm.mmio.register(platform.configurationWindow, base: ecamBase, size: ecamSize)
    vm.mmio.register(platform.memoryWindow, base: memoryWindowBase, size: memoryWindowSize)
    vm.pciBus = platform.bus
    vm.pciPlatform = platform
    return platform
  }

  // MARK: Attaching functions

  /// Where a function was put.
  public struct Attachment: Equatable {
    public var slot: Int
    /// Each BAR's address (nil where the function declares none, or an I/O BAR).
    public var barAddresses: [UInt64?]
    /// The GSI its INTx pin drives, if it has a pin.
    public var gsi: Int?
  }

  public enum Refusal: Error, Equatable {
    case noPCIBus
    case noFreeSlot
    case memoryWindowExhausted

    public var message: StaticString {
      switch self {
      case .noPCIBus: return "the VM has no PCI bus (it needs interrupt controllers)"
      case .noFreeSlot: return "every slot of PCI bus 0 is taken"
      case .memoryWindowExhausted: return "the PCI memory window has no room for the BARs"
      }
    }
  }

  /// Puts `function` in the next free slot of `vm`'s bus 0, as firmware would configure it:
  /// every memory BAR gets a naturally aligned address in the window (written to the BAR,
  /// so the guest keeps it), memory decoding on, the interrupt line set to the GSI its pin
  /// drives, and the VM's MSI receiver and INTx line handed to it. I/O BARs keep what the
  /// function declared (no I/O window is handed out). Nothing changes when refused.
  /// At VM build only: no vCPU may be running.
  public static func attach(_ function: any VirtualPCIFunction, to vm: VirtualMachine)
    -> Result<Attachment, Refusal>
  {
    guard let platform = vm.pciPlatform else { return .failure(.noPCIBus) }
    return platform.attach(function)
  }

  /// The same, for a function that takes its interrupt routes when it is made
  /// (VirtioPCIFunction): `make` gets the VM's MSI receiver and the line INTA of the slot it
  /// will have (nil without an I/O APIC), and what it returns is attached there.
  public static func attach(
    to vm: VirtualMachine,
    making make: (_ messages: any MessageSignaledInterruptSink, _ intx: InterruptLine?) ->
      any VirtualPCIFunction
  ) -> Result<Attachment, Refusal> {
    guard let platform = vm.pciPlatform else { return .failure(.noPCIBus) }
    guard let slot = platform.freeSlot else { return .failure(.noFreeSlot) }
    let line = platform.ioAPIC.map { InterruptLine(controller: $0, pin: gsi(slot: slot, pin: 1)) }
    return platform.attach(make(platform.messageSignaledInterrupts, line))
  }

  /// The slot the next function goes to.
  public var freeSlot: Int? { (1..<32).first(where: { bus.function(at: $0) == nil }) }

  public func attach(_ function: any VirtualPCIFunction) -> Result<Attachment, Refusal> {
    guard let slot = freeSlot else { return .failure(.noFreeSlot) }
    guard let placement = Self.placeBARs(function.configuration.bars, from: nextBARAddress)
    else { return .failure(.memoryWindowExhausted) }
    var configuration = function.configuration
    for (index, address) in placement.addresses.enumerated() {
      guard let address, let bar = configuration.bars[index] else { continue }
      let register = VirtualPCIConfiguration.firstBAR + 4 * index
      _ = configuration.write(offset: register, size: 4, value: UInt32(truncatingIfNeeded: address))
      if bar.kind == .memory64 {
        _ = configuration.write(
          offset: register + 4, size: 4, value: UInt32(truncatingIfNeeded: address >> 32))
      }
    }
    if placement.addresses.contains(where: { $0 != nil }) {
      let command = configuration.commandRegister | 0b10  // memory space (§6.2.2)
      _ = configuration.write(
        offset: VirtualPCIConfiguration.command, size: 2, value: UInt32(command))
    }
    let pin = UInt8(truncatingIfNeeded: configuration.read(offset: 0x3D, size: 1))
    var gsi: Int? = nil
    if pin >= 1 && pin <= 4 {
      let line = Self.gsi(slot: slot, pin: pin)
      gsi = line
      _ = configuration.write(
        offset: VirtualPCIConfiguration.interruptLine, size: 1, value: UInt32(line))
    }
    function.configuration = configuration
    nextBARAddress = placement.end
    bus.attach(function, device: slot)
    function.connectInterrupts(
      messageSignaledInterrupts,
      intx: gsi.flatMap { line in ioAPIC.map { InterruptLine(controller: $0, pin: line) } })
    return .success(Attachment(slot: slot, barAddresses: placement.addresses, gsi: gsi))
  }

  /// Addresses for `bars`' memory BARs from `start` upward, each aligned to its size, the
  /// largest first so that alignment wastes least; nil if they do not all fit in the window.
  static func placeBARs(_ bars: [VirtualBAR?], from start: UInt64) -> (
    addresses: [UInt64?], end: UInt64
  )? {
    var addresses = [UInt64?](repeating: nil, count: bars.count)
    let order = bars.indices.filter { bars[$0].map { $0.kind != .io } ?? false }
      .sorted { bars[$0]!.size > bars[$1]!.size }
    let windowEnd = memoryWindowBase + memoryWindowSize
    var next = start
    var end = start
    for index in order {
      let size = bars[index]!.size
      guard size > 0, size <= memoryWindowSize else { return nil }
      let aligned = (next + size - 1) & ~(size - 1)
      guard aligned >= next, aligned <= windowEnd, size <= windowEnd - aligned else { return nil }
      addresses[index] = aligned
      next = aligned + size
      end = max(end, next)
    }
    return (addresses, end)
  }
}

/// Ports 0xCF8-0xCFF to the bus, counted (docs/guest-io.md's exit counts).
public final class PCIConfigurationPorts: PortDevice {
  let bus: VirtualPCIBus
  public private(set) var accesses: UInt64 = 0

  init(bus: VirtualPCIBus) { self.bus = bus }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    accesses &+= 1
    return bus.read(port: port, size: size)
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    accesses &+= 1
    return bus.write(port: port, size: size, value: value)
  }
}

/// The ECAM window (MCFG's base) to the bus. Accesses other than 1, 2 or 4 bytes read all
/// ones and write nothing, as ECAM need not support them (PCI Express Base 4.0 §7.2.2.1).
public final class PCIConfigurationWindow: MMIODevice {
  private let bus: VirtualPCIBus
  public private(set) var accesses: UInt64 = 0

  init(bus: VirtualPCIBus) { self.bus = bus }

  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    accesses &+= 1
    guard size == 1 || size == 2 || size == 4 else {
      return size >= 8 ? UInt64.max : (1 << (8 * UInt64(size))) - 1
    }
    return bus.readECAM(offset: offset, size: size)
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    accesses &+= 1
    guard size == 1 || size == 2 || size == 4 else { return .none }
    return bus.writeECAM(offset: offset, size: size, value: value)
  }
}

/// The memory-BAR window to the bus, which finds the BAR holding the address wherever the
/// guest moved it (all ones where none does).
public final class PCIMemoryWindow: MMIODevice {
  private let bus: VirtualPCIBus
  private let base: UInt64
  public private(set) var accesses: UInt64 = 0

  init(bus: VirtualPCIBus, base: UInt64) {
    self.bus = bus
    self.base = base
  }

  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    accesses &+= 1
    return bus.readMemory(address: base + offset, size: size)
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    accesses &+= 1
    return bus.writeMemory(address: base + offset, size: size, value: value)
  }
}
