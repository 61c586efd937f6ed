/// One emulated load or store of up to 8 bytes, routed byte range by byte range to what lies
/// at each guest-physical address: a device model, guest RAM, or nothing. An access that
/// straddles the end of a device (or a page boundary, where the next linear page maps
/// elsewhere) is split as the processor splits it: each part goes to its own region, and a
/// part that reaches nothing reads as all ones and drops writes, as an empty bus does, or
/// stops the VM under `unmapped=stop` (docs/hardening.md).
struct GuestPhysicalAccess {
  /// Up to two physically contiguous parts: the bytes in the first linear page and those in
  /// the next (a page crossing), in the access's byte order.
  var first: (address: UInt64, count: UInt8)
  var second: (address: UInt64, count: UInt8)?

  let vcpu: VirtualCPU
  let vm: VirtualMachine
  /// The first device effect a write asked for.
  private(set) var effect = DeviceEffect.none
  /// Set when a part reached nothing under `unmapped=stop`.
  private(set) var stopReason: StopReason?

  init(
    first: (address: UInt64, count: UInt8), second: (address: UInt64, count: UInt8)?,
    vcpu: VirtualCPU, vm: VirtualMachine
  ) {
    self.first = first
    self.second = second
    self.vcpu = vcpu
    self.vm = vm
  }

  private func device(at address: UInt64) -> MMIODeviceTable.Entry? {
    vcpu.localDevices.entry(for: address) ?? vm.mmio.entry(for: address)
  }

  mutating func read() -> UInt64 {
    var value = readPart(first.address, count: first.count)
    if let second {
      value |= readPart(second.address, count: second.count) << (UInt64(first.count) * 8)
    }
    return value
  }

  mutating func write(_ value: UInt64) {
    writePart(first.address, count: first.count, value: value)
    if let second {
      writePart(second.address, count: second.count, value: value >> (UInt64(first.count) * 8))
    }
  }

  /// `count` bytes from `address` on, little-endian; each run inside one device is one
  /// device access when its size is 1, 2, 4 or 8 bytes, byte accesses otherwise.
  private mutating func readPart(_ start: UInt64, count: UInt8) -> UInt64 {
    var value: UInt64 = 0
    var done: UInt8 = 0
    while done < count {
      let address = start &+ UInt64(done)
      let shift = UInt64(done) * 8
      if let entry = device(at: address) {
        let run = deviceRun(entry, address, remaining: count - done)
        value |= entry.device.read(offset: address - entry.base, size: run) << shift
        done += run
      } else if let byte = vm.memory.pointer(to: address, length: 1) {
        value |= UInt64(byte.load(as: UInt8.self)) << shift
        done += 1
      } else {
        nothing(at: address, access: .read)
        value |= 0xFF << shift
        done += 1
      }
    }
    return value
  }

  private mutating func writePart(_ start: UInt64, count: UInt8, value: UInt64) {
    var done: UInt8 = 0
    while done < count {
      let address = start &+ UInt64(done)
      let part = value >> (UInt64(done) * 8)
      if let entry = device(at: address) {
        let run = deviceRun(entry, address, remaining: count - done)
        let result = entry.device.write(
          offset: address - entry.base, size: run, value: part & MemoryAccessEmulator.mask(run))
        if effect == .none { effect = result }
        done += run
      } else if let byte = vm.memory.pointer(to: address, length: 1) {
        byte.storeBytes(of: UInt8(truncatingIfNeeded: part), as: UInt8.self)
        vm.memory.noteWrite(address, length: 1)
        done += 1
      } else {
        nothing(at: address, access: .write)
        done += 1
      }
    }
  }

  /// The largest naturally sized access (8, 4, 2, 1) from `address` that stays inside the
  /// device and within `remaining` bytes.
  private func deviceRun(_ entry: MMIODeviceTable.Entry, _ address: UInt64, remaining: UInt8)
    -> UInt8
  {
    let inDevice = entry.base &+ entry.size &- address
    var size: UInt8 = 8
    while size > 1 && (UInt64(size) > inDevice || size > remaining) { size >>= 1 }
    return size
  }

  private mutating func nothing(at address: UInt64, access: NestedPageFault.Access) {
    if vm.profile.unmapped == .stop && stopReason == nil {
      stopReason = .unmappedAccess(
        guestPhysical: address, access: access, beyondMemory: address >= vm.memory.end)
    }
  }
}
