import Synchronization

/// The common configuration structure (virtio 1.1 §4.1.4.3), little-endian at offset 0 of the
/// virtio BAR. Any access the guest makes inside one register reads or merges its bytes, so
/// 64-bit addresses work as one 8-byte or two 4-byte accesses.
extension VirtioPCIFunction {
  enum CommonRegister: UInt64, CaseIterable {
    case deviceFeatureSelect = 0x00
    case deviceFeature = 0x04
    case driverFeatureSelect = 0x08
    case driverFeature = 0x0C
    case msixConfig = 0x10
    case numQueues = 0x12
    case deviceStatus = 0x14
    case configGeneration = 0x15
    case queueSelect = 0x16
    case queueSize = 0x18
    case queueMSIXVector = 0x1A
    case queueEnable = 0x1C
    case queueNotifyOff = 0x1E
    case queueDescriptor = 0x20
    case queueDriver = 0x28
    case queueDevice = 0x30

    var width: UInt64 {
      switch self {
      case .deviceStatus, .configGeneration: return 1
      case .msixConfig, .numQueues, .queueSelect, .queueSize, .queueMSIXVector, .queueEnable,
        .queueNotifyOff:
        return 2
      case .deviceFeatureSelect, .deviceFeature, .driverFeatureSelect, .driverFeature: return 4
      case .queueDescriptor, .queueDriver, .queueDevice: return 8
      }
    }

    /// The register holding the `size` bytes at `offset`, if one holds them all.
    static func holding(offset: UInt64, size: UInt64) -> CommonRegister? {
      for register in allCases
      where offset >= register.rawValue && offset + size <= register.rawValue + register.width {
        return register
      }
      return nil
    }
  }

  func readCommon(offset: UInt64, size: UInt8) -> UInt64 {
    guard let register = CommonRegister.holding(offset: offset, size: UInt64(size)) else {
      return 0
    }
    let shift = 8 * (offset - register.rawValue)
    let mask: UInt64 = size == 8 ? .max : (1 << (8 * UInt64(size))) - 1
    return value(of: register) >> shift & mask
  }

  func writeCommon(offset: UInt64, size: UInt8, value: UInt64) {
    guard let register = CommonRegister.holding(offset: offset, size: UInt64(size)) else {
      return
    }
    let shift = 8 * (offset - register.rawValue)
    let mask: UInt64 = size == 8 ? .max : (1 << (8 * UInt64(size))) - 1
    let merged = self.value(of: register) & ~(mask << shift) | (value & mask) << shift
    store(merged, in: register)
  }

  /// The selected queue, nil when queue_select is out of range (its registers read 0 and
  /// ignore writes, §4.1.4.3.1).
  private var selectedQueue: VirtioPCIQueue? {
    Int(queueSelectValue) < queueStates.count ? queueStates[Int(queueSelectValue)] : nil
  }

  private func value(of register: CommonRegister) -> UInt64 {
    switch register {
    case .deviceFeatureSelect: return UInt64(deviceFeatureSelectValue)
    case .deviceFeature:
      switch deviceFeatureSelectValue {
      case 0: return offeredFeatures & 0xFFFF_FFFF
      case 1: return offeredFeatures >> 32
      default: return 0
      }
    case .driverFeatureSelect: return UInt64(driverFeatureSelectValue)
    case .driverFeature:
      switch driverFeatureSelectValue {
      case 0: return driverFeatures & 0xFFFF_FFFF
      case 1: return driverFeatures >> 32
      default: return 0
      }
    case .msixConfig: return UInt64(configurationVectorValue)
    case .numQueues: return UInt64(queueStates.count)
    case .deviceStatus: return UInt64(deviceStatus)
    case .configGeneration: return UInt64(configurationGeneration)
    case .queueSelect: return UInt64(queueSelectValue)
    case .queueSize: return UInt64(selectedQueue?.size ?? 0)
    case .queueMSIXVector:
      return UInt64(selectedQueue?.vector.load(ordering: .acquiring) ?? Self.noVector)
    case .queueEnable: return selectedQueue?.enabled == true ? 1 : 0
    case .queueNotifyOff: return selectedQueue == nil ? 0 : UInt64(queueSelectValue)
    case .queueDescriptor: return selectedQueue?.descriptorTable ?? 0
    case .queueDriver: return selectedQueue?.driverArea ?? 0
    case .queueDevice: return selectedQueue?.deviceArea ?? 0
    }
  }

  private func store(_ value: UInt64, in register: CommonRegister) {
    switch register {
    case .deviceFeatureSelect: deviceFeatureSelectValue = UInt32(truncatingIfNeeded: value)
    case .driverFeatureSelect: driverFeatureSelectValue = UInt32(truncatingIfNeeded: value)
    case .driverFeature:
      // Fixed once FEATURES_OK is set (§3.1.1 step 5).
      guard deviceStatus & VirtioStatus.featuresOK == 0 else { return }
      let half = value & 0xFFFF_FFFF
      switch driverFeatureSelectValue {
      case 0: setDriverFeatures(driverFeatures & ~0xFFFF_FFFF | half)
      case 1: setDriverFeatures(driverFeatures & 0xFFFF_FFFF | half << 32)
      default: break
      }
    case .msixConfig: configurationVectorValue = acceptedVector(value)
    case .deviceStatus: writeStatus(UInt8(truncatingIfNeeded: value))
    case .queueSelect: queueSelectValue = UInt16(truncatingIfNeeded: value)
    case .queueMSIXVector:
      selectedQueue?.vector.store(acceptedVector(value), ordering: .releasing)
    case .queueSize:
      guard let queue = selectedQueue, !queue.enabled else { return }
      queue.size = UInt16(truncatingIfNeeded: value)
    case .queueEnable:
      guard value & 1 == 1, let queue = selectedQueue, !queue.enabled else { return }
      enable(queue)
    case .queueDescriptor:
      guard let queue = selectedQueue, !queue.enabled else { return }
      queue.descriptorTable = value
    case .queueDriver:
      guard let queue = selectedQueue, !queue.enabled else { return }
      queue.driverArea = value
    case .queueDevice:
      guard let queue = selectedQueue, !queue.enabled else { return }
      queue.deviceArea = value
    case .deviceFeature, .numQueues, .configGeneration, .queueNotifyOff: break
    }
  }

  /// A vector the table has, else VIRTIO_MSI_NO_VECTOR: the driver reads back what stuck and
  /// learns the mapping failed (§4.1.5.1.2).
  func acceptedVector(_ value: UInt64) -> UInt16 {
    let vector = UInt16(truncatingIfNeeded: value)
    return Int(vector) < queueStates.count + 1 ? vector : Self.noVector
  }

  /// queue_enable = 1: the ring must be a valid size no larger than the maximum, in guest
  /// RAM; otherwise the device needs a reset (§2.1.2), never a crash.
  private func enable(_ queue: VirtioPCIQueue) {
    guard queue.size <= queue.maximumSize else {
      deviceNeedsReset(.invalidSize(Int(queue.size)))
      return
    }
    let state = VirtqueueState(
      size: queue.size, descriptorTable: queue.descriptorTable, driverArea: queue.driverArea,
      deviceArea: queue.deviceArea, eventIndex: driverFeatures & VirtioFeature.eventIndex != 0)
    do {
      queue.ring = try DeviceVirtqueue(state, memory: memory)
      queue.enabled = true
    } catch {
      deviceNeedsReset(error)
    }
  }
}
