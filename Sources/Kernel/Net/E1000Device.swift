import CArch
import NetworkProtocols
import PCI

/// An Intel 8254x (82540EM) NIC, the one Bochs 2.7 offers with a network back end (SDM
/// 317453006). Legacy descriptor rings of 64 entries with 2 KiB buffers from the frame
/// allocator; its interrupts stay masked (Bochs's model has INTx only, which Peregrine does
/// not route): CPU 0 polls it (docs/management-network.md). Used only by CPU 0.
final class E1000Device: NetworkInterfaceCard {
  enum Problem: Error {
    case noRegisterWindow
    case cannotMap
    case noMAC
    case outOfMemory
  }

  static let entries = 64
  static let bufferSize = 2048

  let mac: MACAddress
  let usesInterrupts = false
  let model: StaticString = "e1000"
  private(set) var transmitFull: UInt64 = 0
  private let registers: UInt64
  private let receiveRing: UInt64
  private let transmitRing: UInt64
  private let receiveBuffers: UInt64
  private let transmitBuffers: UInt64
  /// The next receive descriptor the NIC will fill, and the next transmit slot.
  private var receiveNext = 0
  private var transmitNext = 0

  private init(
    mac: MACAddress, registers: UInt64, receiveRing: UInt64, transmitRing: UInt64,
    receiveBuffers: UInt64, transmitBuffers: UInt64
  ) {
    self.mac = mac
    self.registers = registers
    self.receiveRing = receiveRing
    self.transmitRing = transmitRing
    self.receiveBuffers = receiveBuffers
    self.transmitBuffers = transmitBuffers
  }

  /// Reset, link up, rings, receive and transmit on (SDM §14: general configuration,
  /// receive and transmit initialization).
  static func start(_ function: PCIFunction) -> Result<E1000Device, Problem> {
    guard let base = function.bars.first?.memoryBase, let size = function.bars.first?.memorySize
    else { return .failure(.noRegisterWindow) }
    guard KernelPageTables.mapDevice(physical: base, length: size) else {
      return .failure(.cannotMap)
    }
    let space = function.space
    space.write16(
      0x04,
      space.read16(0x04) | PCICommand.memorySpace | PCICommand.busMaster
        | PCICommand.interruptDisable)
    func write(_ register: Int, _ value: UInt32) { mmio_write32(base + UInt64(register), value) }
    func read(_ register: Int) -> UInt32 { mmio_read32(base + UInt64(register)) }

    write(E1000Register.interruptMaskClear, 0xFFFF_FFFF)
    write(E1000Register.control, read(E1000Register.control) | E1000Bits.controlReset)
    var spins = 0
    while read(E1000Register.control) & E1000Bits.controlReset != 0 && spins < 1_000_000 {
      spins += 1
      arch_pause()
    }
    write(E1000Register.interruptMaskClear, 0xFFFF_FFFF)  // the reset unmasked nothing, but
    _ = read(E1000Register.interruptCause)  // clear what is pending (read clears, §13.4.17)
    write(
      E1000Register.control,
      read(E1000Register.control) | E1000Bits.controlSetLinkUp | E1000Bits.controlAutoSpeed)
    // The MAC: RAL0/RAH0 when the reset loaded them (QEMU), else EEPROM words 0-2 (Bochs,
    // §5.6.1), written to RAL0/RAH0 with AV so the receive filter takes unicast to it.
    var bytes = E1000Descriptor.mac(
      low: read(E1000Register.receiveAddressLow), high: read(E1000Register.receiveAddressHigh))
    if bytes == nil {
      var words: [UInt16] = []
      for word in 0..<3 {
        // EERD (§13.4.4): address in bits 15:8, START bit 0; DONE bit 4, data in 31:16.
        write(E1000Register.eepromRead, UInt32(word) << 8 | 1)
        var waited = 0
        while read(E1000Register.eepromRead) & (1 << 4) == 0 && waited < 100_000 {
          waited += 1
          arch_pause()
        }
        guard waited < 100_000 else { return .failure(.noMAC) }
        words.append(UInt16(truncatingIfNeeded: read(E1000Register.eepromRead) >> 16))
      }
      bytes = words.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
    }
    guard let bytes, let mac = MACAddress(bytes, at: 0), mac != .zero, !mac.isMulticast else {
      return .failure(.noMAC)
    }
    write(
      E1000Register.receiveAddressLow,
      UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
    write(
      E1000Register.receiveAddressHigh,
      UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | E1000Bits.addressValid)
    for index in 0..<128 { write(E1000Register.multicastTable + 4 * index, 0) }

    let ringFrames = (entries * E1000Descriptor.size + 4095) / 4096
    let bufferFrames = entries * bufferSize / 4096
    guard let receiveRing = PhysicalFrames.allocateZeroed(frames: ringFrames),
      let transmitRing = PhysicalFrames.allocateZeroed(frames: ringFrames),
      let receiveBuffers = PhysicalFrames.allocateZeroed(frames: bufferFrames),
      let transmitBuffers = PhysicalFrames.allocateZeroed(frames: bufferFrames)
    else { return .failure(.outOfMemory) }
    let device = E1000Device(
      mac: mac, registers: base, receiveRing: receiveRing, transmitRing: transmitRing,
      receiveBuffers: receiveBuffers, transmitBuffers: transmitBuffers)
    for index in 0..<entries { device.giveBack(index) }
    write(E1000Register.receiveBaseLow, UInt32(truncatingIfNeeded: receiveRing))
    write(E1000Register.receiveBaseHigh, UInt32(truncatingIfNeeded: receiveRing >> 32))
    write(E1000Register.receiveLength, UInt32(entries * E1000Descriptor.size))
    write(E1000Register.receiveHead, 0)
    // Tail one behind the head: every descriptor but one belongs to the NIC (§3.2.6).
    write(E1000Register.receiveTail, UInt32(entries - 1))
    write(
      E1000Register.receiveControl,
      E1000Bits.receiveEnable | E1000Bits.receiveBroadcastAccept | E1000Bits.receiveStripCRC)
    write(E1000Register.transmitBaseLow, UInt32(truncatingIfNeeded: transmitRing))
    write(E1000Register.transmitBaseHigh, UInt32(truncatingIfNeeded: transmitRing >> 32))
    write(E1000Register.transmitLength, UInt32(entries * E1000Descriptor.size))
    write(E1000Register.transmitHead, 0)
    write(E1000Register.transmitTail, 0)
    write(E1000Register.transmitIPG, E1000Bits.transmitIPGValue)
    write(
      E1000Register.transmitControl,
      E1000Bits.transmitEnable | E1000Bits.transmitPadShort | E1000Bits.transmitCollision)
    return .success(device)
  }

  private func descriptor(_ ring: UInt64, _ index: Int) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(ring) + UInt(index * E1000Descriptor.size))!
  }

  /// Receive descriptor `index` with its buffer and a clear status, for the NIC to fill.
  private func giveBack(_ index: Int) {
    let entry = descriptor(receiveRing, index)
    entry.storeBytes(
      of: (receiveBuffers + UInt64(index * Self.bufferSize)).littleEndian, as: UInt64.self)
    entry.storeBytes(of: UInt64(0), toByteOffset: 8, as: UInt64.self)
  }

  private func receiveStatus(_ index: Int) -> E1000Descriptor.Reception {
    let entry = descriptor(receiveRing, index)
    atomicFence()
    return E1000Descriptor.received(
      Array(UnsafeRawBufferPointer(start: entry, count: E1000Descriptor.size)))
  }

  var hasReceived: Bool { receiveStatus(receiveNext) != .pending }

  func receiveFrames(limit: Int, _ body: ([UInt8]) -> Void) -> Int {
    var count = 0
    while count < limit {
      let status = receiveStatus(receiveNext)
      if status == .pending { break }
      if case .frame(let length) = status {
        let start = UnsafeRawPointer(
          bitPattern: UInt(receiveBuffers) + UInt(receiveNext * Self.bufferSize))!
        body(Array(UnsafeRawBufferPointer(start: start, count: min(length, Self.bufferSize))))
      }
      giveBack(receiveNext)
      atomicFence()
      // The descriptor just given back becomes the tail: the NIC may fill it again.
      mmio_write32(registers + UInt64(E1000Register.receiveTail), UInt32(receiveNext))
      receiveNext = (receiveNext + 1) % Self.entries
      count += 1
    }
    return count
  }

  @discardableResult
  func send(_ frame: [UInt8]) -> Bool {
    // The slot is free when the NIC has never used it or has written DD back (RS set).
    let entry = descriptor(transmitRing, transmitNext)
    atomicFence()
    let used = entry.load(fromByteOffset: 0, as: UInt64.self) != 0
    let done = entry.load(fromByteOffset: 12, as: UInt8.self) & E1000Descriptor.done != 0
    guard frame.count <= Self.bufferSize, !used || done else {
      transmitFull &+= 1
      return false
    }
    let buffer = transmitBuffers + UInt64(transmitNext * Self.bufferSize)
    frame.withUnsafeBytes {
      guard let source = $0.baseAddress else { return }
      UnsafeMutableRawPointer(bitPattern: UInt(buffer))!.copyMemory(
        from: source, byteCount: $0.count)
    }
    let bytes = E1000Descriptor.transmit(address: buffer, length: UInt16(frame.count))
    bytes.withUnsafeBytes { entry.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    transmitNext = (transmitNext + 1) % Self.entries
    atomicFence()
    mmio_write32(registers + UInt64(E1000Register.transmitTail), UInt32(transmitNext))
    return true
  }

  @inline(__always)
  private func atomicFence() { mmio_barrier() }
}
