/// A whole VM's saved state as the control protocol's `status --state` carries it: the VM
/// header record, then per vCPU its architectural record followed by its local APIC's
/// record when it has one, then the VM-wide device models' records in table order (ports,
/// then MMIO). docs/vm-state.md, "A VM's saved state".
public struct SavedVMState: Equatable {
  public struct VCPU: Equatable {
    public var architectural: VCPUArchitecturalState
    public var localAPIC: LocalAPICModel.State?

    public init(architectural: VCPUArchitecturalState, localAPIC: LocalAPICModel.State? = nil) {
      self.architectural = architectural
      self.localAPIC = localAPIC
    }
  }

  public var memorySize: UInt64
  public var vcpus: [VCPU]
  public var devices: [SavedDevice]

  public init(memorySize: UInt64, vcpus: [VCPU], devices: [SavedDevice]) {
    self.memorySize = memorySize
    self.vcpus = vcpus
    self.devices = devices
  }

  public func encoded() -> [UInt8] {
    var bytes = VMStateHeader(
      memorySize: memorySize, vcpuCount: vcpus.count, deviceCount: devices.count
    ).encoded()
    for vcpu in vcpus {
      bytes += vcpu.architectural.encoded()
      if let apic = vcpu.localAPIC { bytes += apic.encoded() }
    }
    for device in devices { bytes += device.encoded() }
    return bytes
  }

  /// Exactly the records the header announces, each valid for its kind, nothing after.
  public static func decoded(_ bytes: [UInt8]) throws(StateDecodingError) -> SavedVMState {
    let entries = try StateRecord.entries(in: bytes)
    guard let first = entries.first else { throw .truncated(at: 0, needed: StateRecord.headerSize) }
    let header = try VMStateHeader.decoded(first.bytes)
    var next = 1
    var vcpus: [VCPU] = []
    while vcpus.count < header.vcpuCount {
      guard next < entries.count, entries[next].kind == .vcpu else {
        throw .recordCount(expected: header.vcpuCount, found: vcpus.count)
      }
      var vcpu = VCPU(architectural: try VCPUArchitecturalState.decoded(entries[next].bytes))
      next += 1
      if next < entries.count, entries[next].kind == .localAPIC {
        vcpu.localAPIC = try LocalAPICModel.State.decoded(entries[next].bytes)
        next += 1
      }
      vcpus.append(vcpu)
    }
    let devices = entries[next...]
    guard devices.count == header.deviceCount else {
      throw .recordCount(expected: header.deviceCount, found: devices.count)
    }
    var saved: [SavedDevice] = []
    for entry in devices { saved.append(try SavedDevice.decoded(entry)) }
    return SavedVMState(memorySize: header.memorySize, vcpus: vcpus, devices: saved)
  }
}

extension VirtualMachine {
  /// The VM-wide device models' values, in table order (ports, then MMIO), each model once
  /// (the PIT sits at two port ranges), then the PCI functions' records slot by slot (a
  /// virtio function's transport, then its model), taken under the device lock so that no
  /// exit on another vCPU changes one halfway. The local APICs belong to the vCPUs (their
  /// own CPU saves each).
  public func saveDevices() -> [SavedDevice] {
    var seen: [AnyObject] = []
    var saved: [SavedDevice] = []
    lockDevices()
    for entry in ports.entries where !seen.contains(where: { $0 === entry.device }) {
      seen.append(entry.device)
      if let value = entry.device.savedDevice() { saved.append(value) }
    }
    for entry in mmio.entries where !seen.contains(where: { $0 === entry.device }) {
      seen.append(entry.device)
      if let value = entry.device.savedDevice() { saved.append(value) }
    }
    if let bus = pciBus { saved += bus.savedFunctions() }
    unlockDevices()
    return saved
  }
}

/// Why a VM's device models could not take a saved state back.
public enum DeviceRestoreError: Error, Equatable {
  /// The saved state has `found` device records where this VM's tables hold `expected`
  /// models with state: it was taken from a VM built otherwise.
  case deviceCount(expected: Int, found: Int)
  /// Record `index` is not the kind of the model at that place in the tables.
  case kindMismatch(index: Int)
  /// Record `index` is of the right kind but from a model built otherwise
  /// (`SavedDevice.fits`): another PCI function, slot layout, MAC or disk size.
  case builtOtherwise(index: Int)
}

extension VirtualMachine {
  /// Puts `saved` (as `saveDevices()` gave it, here or on another node) back into this VM's
  /// device models, in the same order, under the device lock. The VM must be built from the
  /// same profile and must not run. Every record is checked against its model's kind and
  /// build (`SavedDevice.fits`) before any model changes, so a refused state leaves the
  /// devices as they were. A PCI function takes its records together (a virtio function's
  /// transport and model); its BARs decode where its restored configuration puts them.
  public func restoreDevices(_ saved: [SavedDevice]) throws(DeviceRestoreError) {
    enum Model {
      case port(PortDevice)
      case mmio(MMIODevice)
      case pci(any VirtualPCIFunction)
    }
    var seen: [AnyObject] = []
    /// Each model with the records it gives now, in `saveDevices()` order.
    var models: [(model: Model, current: [SavedDevice])] = []
    lockDevices()
    defer { unlockDevices() }
    for entry in ports.entries where !seen.contains(where: { $0 === entry.device }) {
      seen.append(entry.device)
      if let current = entry.device.savedDevice() {
        models.append((.port(entry.device), [current]))
      }
    }
    for entry in mmio.entries where !seen.contains(where: { $0 === entry.device }) {
      seen.append(entry.device)
      if let current = entry.device.savedDevice() {
        models.append((.mmio(entry.device), [current]))
      }
    }
    if let bus = pciBus {
      for slot in 0..<32 {
        if let function = bus.function(at: slot) {
          models.append((.pci(function), function.savedDevices()))
        }
      }
    }
    let current = models.flatMap { $0.current }
    guard current.count == saved.count else {
      throw .deviceCount(expected: current.count, found: saved.count)
    }
    for index in saved.indices where current[index].kind != saved[index].kind {
      throw .kindMismatch(index: index)
    }
    for index in saved.indices where !saved[index].fits(current[index]) {
      throw .builtOtherwise(index: index)
    }
    var next = 0
    for (model, records) in models {
      let index = next
      next += records.count
      let applied: Bool
      switch model {
      case .port(let device): applied = device.restore(savedDevice: saved[index])
      case .mmio(let device): applied = device.restore(savedDevice: saved[index])
      case .pci(let function): applied = function.restore(savedDevices: saved[index..<next])
      }
      if !applied { throw .kindMismatch(index: index) }
    }
  }
}

extension VirtualMachine {
  /// The paused VM's state: every vCPU's record as its CPU captured it when it parked, and
  /// the device models' values now. nil when a vCPU's capture failed. Call once every vCPU
  /// parked (the CPU that parked the last one).
  public func encodePausedState() -> [UInt8]? {
    var captured: [SavedVMState.VCPU] = []
    for vcpu in vcpus {
      guard let state = vcpu.pausedState else { return nil }
      captured.append(state)
    }
    return SavedVMState(memorySize: profile.memorySize, vcpus: captured, devices: saveDevices())
      .encoded()
  }
}
