import Synchronization

/// The transport's saved state (docs/vm-state.md): configuration space, the common
/// configuration's registers, each queue's registers and ring indices, and the MSI-X table
/// with its pending bits. The rings and buffers are guest RAM and move with it; the model's
/// own state is the model's to save (its record follows the transport's, `savedDevices`).
/// The event-index mode of each ring follows from the driver's features; the fault kept for
/// the VM's report (`lastFault`) and the counters are not state.
extension VirtioPCIFunction: StatefulDevice {
  public struct QueueState: Equatable {
    public var size: UInt16
    public var descriptorTable: UInt64
    public var driverArea: UInt64
    public var deviceArea: UInt64
    public var vector: UInt16
    public var enabled: Bool
    public var lastAvailable: UInt16
    public var usedIndex: UInt16
    public var interruptWanted: Bool
  }

  public struct VectorState: Equatable {
    public var address: UInt64
    public var data: UInt32
    public var control: UInt32
    public var pending: Bool
  }

  public struct State: Equatable {
    /// The first 256 bytes of configuration space (`VirtualPCIConfiguration.savedImage`):
    /// command, BARs as assigned, interrupt line, MSI-X message control.
    public var configuration: [UInt8]
    public var status: UInt8
    public var deviceFeatureSelect: UInt32
    public var driverFeatureSelect: UInt32
    public var driverFeatures: UInt64
    public var configurationVector: UInt16
    public var queueSelect: UInt16
    public var generation: UInt8
    public var interruptStatus: UInt8
    public var queues: [QueueState]
    public var vectors: [VectorState]
  }

  public func save() -> State {
    State(
      configuration: configuration.savedImage, status: deviceStatus,
      deviceFeatureSelect: deviceFeatureSelectValue,
      driverFeatureSelect: driverFeatureSelectValue, driverFeatures: driverFeatures,
      configurationVector: configurationVectorValue, queueSelect: queueSelectValue,
      generation: configurationGeneration, interruptStatus: pendingInterruptStatus,
      queues: queueStates.map { queue in
        QueueState(
          size: queue.size, descriptorTable: queue.descriptorTable, driverArea: queue.driverArea,
          deviceArea: queue.deviceArea, vector: queue.vector.load(ordering: .acquiring),
          enabled: queue.enabled, lastAvailable: queue.ring?.state.lastAvailable ?? 0,
          usedIndex: queue.ring?.state.usedIndex ?? 0, interruptWanted: queue.interruptWanted)
      },
      vectors: msixVectors.map { vector in
        VectorState(
          address: vector.address, data: vector.data.load(ordering: .acquiring),
          control: vector.control.load(ordering: .acquiring),
          pending: vector.pending.load(ordering: .acquiring))
      })
  }

  /// Restores a state saved from a function of the same model type; a queue whose saved
  /// ring no longer validates (or is larger than this function's queues) sets
  /// DEVICE_NEEDS_RESET. A live device is activated again so the model gets its service
  /// back. Vectors the MSI-X table lacks read back as VIRTIO_MSI_NO_VECTOR, as after a guest
  /// write; configuration space takes back only its writable bits.
  public func restore(_ state: State) {
    model.reset()
    deviceFeatureSelectValue = state.deviceFeatureSelect
    driverFeatureSelectValue = state.driverFeatureSelect
    setDriverFeatures(state.driverFeatures)
    configurationVectorValue = acceptedVector(UInt64(state.configurationVector))
    queueSelectValue = state.queueSelect
    restoreCounters(status: state.status, generation: state.generation, isr: state.interruptStatus)
    for (vector, saved) in zip(msixVectors, state.vectors) {
      vector.write(word: 0, value: UInt32(truncatingIfNeeded: saved.address))
      vector.write(word: 1, value: UInt32(truncatingIfNeeded: saved.address >> 32))
      vector.write(word: 2, value: saved.data)
      vector.write(word: 3, value: saved.control)
      vector.pending.store(saved.pending, ordering: .releasing)
    }
    // After the table: the message control word it brings may deliver what is pending.
    var restored = configuration
    restored.restore(image: state.configuration)
    configuration = restored
    for (queue, saved) in zip(queueStates, state.queues) {
      queue.reset()
      queue.size = saved.size
      queue.descriptorTable = saved.descriptorTable
      queue.driverArea = saved.driverArea
      queue.deviceArea = saved.deviceArea
      queue.vector.store(acceptedVector(UInt64(saved.vector)), ordering: .releasing)
      queue.interruptWanted = saved.interruptWanted
      guard saved.enabled else { continue }
      guard saved.size <= queue.maximumSize else {
        deviceNeedsReset(.invalidSize(Int(saved.size)))
        continue
      }
      var ringState = VirtqueueState(
        size: saved.size, descriptorTable: saved.descriptorTable, driverArea: saved.driverArea,
        deviceArea: saved.deviceArea, eventIndex: driverFeatures & VirtioFeature.eventIndex != 0)
      ringState.lastAvailable = saved.lastAvailable
      ringState.usedIndex = saved.usedIndex
      do {
        queue.ring = try DeviceVirtqueue(ringState, memory: memory)
        queue.enabled = true
      } catch {
        deviceNeedsReset(error)
      }
    }
    if isLive { model.activate(features: driverFeatures, service: self) }
  }
}

// The function's records in a VM's saved state: the transport's, then its model's.
extension VirtioPCIFunction {
  public func savedDevices() -> [SavedDevice] {
    var saved: [SavedDevice] = [.virtioPCI(save())]
    if let own = model.savedDevice() { saved.append(own) }
    return saved
  }

  /// The model's record after the transport's restore: activation (a live device) resets
  /// what the model keeps per activation, which its record then puts back.
  public func restore(savedDevices saved: ArraySlice<SavedDevice>) -> Bool {
    guard let first = saved.first, case .virtioPCI(let transport) = first else { return false }
    let own = saved.dropFirst()
    guard own.count == (model.savedDevice() == nil ? 0 : 1) else { return false }
    restore(transport)
    if let record = own.first { return model.restore(savedDevice: record) }
    return true
  }
}
