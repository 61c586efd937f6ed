/// The PCI platform's and the virtio devices' records (docs/vm-state.md, "Encoding"). A
/// configuration space travels as its first 256 bytes; what of it is writable is the
/// function's to decide when it takes the image back, so any bytes decode.

extension VirtualPCIBus.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pciBus }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u32(addressLatch)
    writer.u32(occupiedSlots)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let latch = try reader.u32()
    // Only a doubleword write sets the latch, which keeps bit 31 and bits 23:2 (§3.2.2.3.2).
    try reader.check(latch & ~0x80FF_FFFC == 0, fieldSize: 4)
    let slots = try reader.u32()
    try reader.check(slots & 1 == 1, fieldSize: 4)  // the host bridge is always at 00.0
    return Self(addressLatch: latch, occupiedSlots: slots)
  }
}

extension PCIFunctionState: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pciFunction }

  public func encodePayload(into writer: inout StateWriter) {
    writer.configurationImage(configuration)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  { Self(configuration: try reader.raw(count: VirtualPCIConfiguration.savedSize)) }
}

extension StateWriter {
  /// Exactly `VirtualPCIConfiguration.savedSize` bytes (zeros where `image` is short).
  mutating func configurationImage(_ image: [UInt8]) {
    for index in 0..<VirtualPCIConfiguration.savedSize {
      u8(index < image.count ? image[index] : 0)
    }
  }
}

extension VirtioPCIFunction.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .virtioPCI }
  /// Bytes per queue and per MSI-X vector in the payload.
  static let queueSize = 34
  static let vectorSize = 17

  public func encodePayload(into writer: inout StateWriter) {
    writer.configurationImage(configuration)
    writer.u8(status)
    writer.u32(deviceFeatureSelect)
    writer.u32(driverFeatureSelect)
    writer.u64(driverFeatures)
    writer.u16(configurationVector)
    writer.u16(queueSelect)
    writer.u8(generation)
    writer.u8(interruptStatus)
    writer.u16(UInt16(truncatingIfNeeded: queues.count))
    for queue in queues {
      writer.u16(queue.size)
      writer.u64(queue.descriptorTable)
      writer.u64(queue.driverArea)
      writer.u64(queue.deviceArea)
      writer.u16(queue.vector)
      writer.bool(queue.enabled)
      writer.u16(queue.lastAvailable)
      writer.u16(queue.usedIndex)
      writer.bool(queue.interruptWanted)
    }
    writer.u16(UInt16(truncatingIfNeeded: vectors.count))
    for vector in vectors {
      writer.u64(vector.address)
      writer.u32(vector.data)
      writer.u32(vector.control)
      writer.bool(vector.pending)
    }
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let configuration = try reader.raw(count: VirtualPCIConfiguration.savedSize)
    let status = try reader.u8()
    let deviceFeatureSelect = try reader.u32()
    let driverFeatureSelect = try reader.u32()
    let driverFeatures = try reader.u64()
    let configurationVector = try reader.u16()
    let queueSelect = try reader.u16()
    let generation = try reader.u8()
    let interruptStatus = try reader.u8()
    try reader.check(interruptStatus <= 3, fieldSize: 1)  // queue (0) and configuration (1)
    // A function has 1 to 63 queues and a vector more (VirtioPCILayout.maximumVectors).
    let queueCount = try reader.count16(
      maximum: VirtioPCILayout.maximumVectors - 1, elementSize: queueSize)
    var queues: [VirtioPCIFunction.QueueState] = []
    for _ in 0..<queueCount {
      let size = try reader.u16()
      let descriptorTable = try reader.u64()
      let driverArea = try reader.u64()
      let deviceArea = try reader.u64()
      let vector = try reader.u16()
      let enabled = try reader.bool()
      let lastAvailable = try reader.u16()
      let usedIndex = try reader.u16()
      // A queue not enabled has no ring, so no indices (the transport saves 0).
      try reader.check(enabled || lastAvailable == 0 && usedIndex == 0, fieldSize: 2)
      let interruptWanted = try reader.bool()
      queues.append(
        VirtioPCIFunction.QueueState(
          size: size, descriptorTable: descriptorTable, driverArea: driverArea,
          deviceArea: deviceArea, vector: vector, enabled: enabled,
          lastAvailable: lastAvailable, usedIndex: usedIndex, interruptWanted: interruptWanted))
    }
    let vectorCount = try reader.count16(
      maximum: VirtioPCILayout.maximumVectors, elementSize: vectorSize)
    var vectors: [VirtioPCIFunction.VectorState] = []
    for _ in 0..<vectorCount {
      let address = try reader.u64()
      try reader.check(address & 3 == 0, fieldSize: 8)  // DWORD aligned (PCI 3.0 §6.8.2.6)
      let data = try reader.u32()
      let control = try reader.u32()
      try reader.check(control <= 1, fieldSize: 4)  // only the mask bit
      let pending = try reader.bool()
      vectors.append(
        VirtioPCIFunction.VectorState(
          address: address, data: data, control: control, pending: pending))
    }
    return Self(
      configuration: configuration, status: status, deviceFeatureSelect: deviceFeatureSelect,
      driverFeatureSelect: driverFeatureSelect, driverFeatures: driverFeatures,
      configurationVector: configurationVector, queueSelect: queueSelect,
      generation: generation, interruptStatus: interruptStatus, queues: queues,
      vectors: vectors)
  }
}

extension VirtioBlockDevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .virtioBlock }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u64(capacity)
    writer.bool(readOnly)
    writer.u64(negotiatedFeatures)
    writer.bool(needsReset)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    state.capacity = try reader.u64()
    state.readOnly = try reader.bool()
    state.negotiatedFeatures = try reader.u64()
    state.needsReset = try reader.bool()
    return state
  }
}

extension VirtioNetDevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .virtioNet }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u64(mac)
    writer.fault(receiveFault)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let mac = try reader.u64()
    try reader.check(mac >> 48 == 0, fieldSize: 8)
    return Self(mac: mac, receiveFault: try reader.fault())
  }
}

extension VirtioEntropyDevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .virtioEntropy }
  public func encodePayload(into writer: inout StateWriter) {}
  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  { Self() }
}

// A virtqueue fault: tag u8 (0 none, then VirtqueueFault's cases in order from 1), a u64
// and a u32 operand, zero where the case has none.
extension StateWriter {
  mutating func fault(_ fault: VirtqueueFault?) {
    var tag: UInt8 = 0
    var wide: UInt64 = 0
    var narrow: UInt32 = 0
    switch fault {
    case nil: break
    case .invalidSize(let size):
      tag = 1
      wide = UInt64(truncatingIfNeeded: size)
    case .invalidArea(let address):
      tag = 2
      wide = address
    case .indexJumped(let from, let to):
      tag = 3
      narrow = UInt32(from) | UInt32(to) << 16
    case .descriptorOutOfRange(let index):
      tag = 4
      narrow = index
    case .descriptorLoop: tag = 5
    case .bufferOutsideMemory(let address, let length):
      tag = 6
      wide = address
      narrow = length
    case .readableAfterWritable: tag = 7
    case .nestedIndirect: tag = 8
    case .invalidIndirectTable(let length):
      tag = 9
      narrow = length
    case .chainTooLarge(let total):
      tag = 10
      wide = total
    }
    u8(tag)
    u64(wide)
    u32(narrow)
  }
}

extension StateReader {
  mutating func fault() throws(StateDecodingError) -> VirtqueueFault? {
    let tagAt = position
    let tag = try u8()
    let wide = try u64()
    let narrow = try u32()
    let usesWide = [1, 2, 6, 10].contains(tag)
    let usesNarrow = [3, 4, 6, 9].contains(tag)
    guard tag <= 10, usesWide || wide == 0, usesNarrow || narrow == 0,
      tag != 1 || wide <= 0xFFFF_FFFF
    else { throw .invalidValue(at: tagAt) }
    switch tag {
    case 1: return .invalidSize(Int(wide))
    case 2: return .invalidArea(address: wide)
    case 3:
      return .indexJumped(
        from: UInt16(truncatingIfNeeded: narrow), to: UInt16(truncatingIfNeeded: narrow >> 16))
    case 4: return .descriptorOutOfRange(narrow)
    case 5: return .descriptorLoop
    case 6: return .bufferOutsideMemory(address: wide, length: narrow)
    case 7: return .readableAfterWritable
    case 8: return .nestedIndirect
    case 9: return .invalidIndirectTable(length: narrow)
    case 10: return .chainTooLarge(wide)
    default: return nil
    }
  }
}
