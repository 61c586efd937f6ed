import XCTest

@testable import HypervisorCore

/// Bytes from a counter, so two VMs draw the same.
private final class CountingEntropy: EntropySource {
  var next: UInt8 = 0
  func fill(_ buffer: UnsafeMutableRawBufferPointer) {
    for index in buffer.indices {
      buffer[index] = next
      next &+= 1
    }
  }
}

/// A VM's PCI platform with virtio-blk, virtio-net and virtio-rng, the 8259 pair and the
/// pc-testdev, driven as a guest would through the VM's port and MMIO tables, saved with
/// `saveDevices()` and restored into a second VM built the same way: both then hold the same
/// records and answer every guest read the same, BARs where the guest moved them.
final class PCIDeviceStateTests: XCTestCase {
  private var machines: [TestMachine] = []
  private var disks: [GuardedBuffer] = []

  override func tearDown() {
    for machine in machines { machine.release() }
    machines = []
    disks = []
  }

  static let mac: UInt64 = 0x5254_0012_3456
  /// Slots as the loader fills them: the disk, the NIC, then rng (VMDisk+PCI,
  /// GuestNICs+PCI, GuestIODevices), after the host bridge at 0.
  static let blockSlot = 1
  static let netSlot = 2
  static let rngSlot = 3
  /// Where the guest moves the NIC's virtio BAR (4, 64-bit), inside the memory window.
  static let movedBAR: UInt64 = 0xD000_0000
  /// Ring pages in guest RAM, per slot.
  static func ring(_ slot: Int, queue: Int) -> UInt64 {
    0x20_0000 + UInt64(slot) << 16 + UInt64(queue) << 12
  }

  /// Built as the multiboot loader builds a `testdev=on` guest with a disk, a NIC and rng.
  private func build(mac: UInt64 = mac, rng: Bool = true) -> TestMachine {
    let machine = TestMachine(ramSize: 16 << 20, cpus: 2)
    machines.append(machine)
    let vm = machine.vm
    let clock = NanosecondClock()
    GuestPlatformDevices.installLinux(
      in: vm, clock: clock,
      wallClock: GuestClockWallClock(clock: clock, start: clock.now, epochNanoseconds: 0))
    let ioAPIC = vm.mmio.entry(for: IOAPICModel.base)!.device as! IOAPICModel
    GuestPlatformDevices.installTestDevice(in: vm, ioAPIC: ioAPIC)
    let buffer = GuardedBuffer(size: 64 * 512)
    disks.append(buffer)
    var models: [any VirtioDeviceModel] = [
      VirtioBlockDevice(disk: DiskImage(name: Array("disk0".utf8), bytes: buffer.bytes)),
      VirtioNetDevice(mac: mac),
    ]
    if rng { models.append(VirtioEntropyDevice(source: CountingEntropy())) }
    let memory = vm.memory
    for model in models {
      let attached = PCIPlatform.attach(to: vm) { messages, intx in
        VirtioPCIFunction(model: model, memory: memory, interrupts: messages, interruptLine: intx)
      }
      XCTAssertNotNil(try? attached.get())
    }
    return machine
  }

  // MARK: The guest's accesses, through the VM's tables

  private func port(_ vm: VirtualMachine, _ port: UInt16) -> any PortDevice {
    vm.ports.device(for: port)!
  }

  private func configurationRead(_ vm: VirtualMachine, slot: Int, _ offset: Int) -> UInt32 {
    _ = port(vm, 0xCF8).write(
      port: 0xCF8, size: 4, value: 0x8000_0000 | UInt32(slot) << 11 | UInt32(offset & 0xFC))
    return port(vm, 0xCFC).read(port: 0xCFC, size: 4)
  }

  private func ecam(_ vm: VirtualMachine, slot: Int, _ offset: Int) -> UInt64 {
    PCIPlatform.ecamBase + UInt64(slot) << 15 + UInt64(offset)
  }

  private func mmioRead(_ vm: VirtualMachine, _ address: UInt64, size: UInt8) -> UInt64 {
    guard let entry = vm.mmio.entry(for: address) else { return UInt64.max }
    return entry.device.read(offset: address - entry.base, size: size)
  }

  private func mmioWrite(_ vm: VirtualMachine, _ address: UInt64, size: UInt8, _ value: UInt64) {
    let entry = vm.mmio.entry(for: address)!
    _ = entry.device.write(offset: address - entry.base, size: size, value: value)
  }

  private func bar(_ vm: VirtualMachine, slot: Int, _ index: Int) -> UInt64 {
    let low = UInt64(configurationRead(vm, slot: slot, 0x10 + 4 * index))
    let high =
      index == 4 ? UInt64(configurationRead(vm, slot: slot, 0x10 + 4 * index + 4)) << 32 : 0
    return high | low & ~0xF
  }

  /// The MSI-X capability's offset, found through the capability list (§6.7).
  private func msixCapability(_ vm: VirtualMachine, slot: Int) -> Int {
    var next = Int(configurationRead(vm, slot: slot, 0x34) & 0xFF)
    while next != 0 {
      let header = configurationRead(vm, slot: slot, next)
      if header & 0xFF == 0x11 { return next }
      next = Int(header >> 8 & 0xFF)
    }
    XCTFail("no MSI-X capability")
    return 0
  }

  /// Linux's virtio_pci_modern probe: features, MSI-X vectors, every queue at its rings,
  /// DRIVER_OK; on the NIC after moving its virtio BAR.
  private func probe(_ vm: VirtualMachine, slot: Int, queues: Int) {
    if slot == Self.netSlot {
      _ = port(vm, 0xCF8).write(
        port: 0xCF8, size: 4, value: 0x8000_0000 | UInt32(slot) << 11 | 0x20)
      _ = port(vm, 0xCFC).write(
        port: 0xCFC, size: 4, value: UInt32(truncatingIfNeeded: Self.movedBAR))
    }
    // Bus mastering on (memory decoding is the platform's), MSI-X enabled through ECAM.
    mmioWrite(vm, ecam(vm, slot: slot, 0x04), size: 2, 0x6)
    mmioWrite(vm, ecam(vm, slot: slot, msixCapability(vm, slot: slot) + 2), size: 2, 0x8000)
    let common = bar(vm, slot: slot, 4)
    let table = bar(vm, slot: slot, 1)
    mmioWrite(vm, common + 0x14, size: 1, 0)
    mmioWrite(vm, common + 0x14, size: 1, 3)  // ACKNOWLEDGE | DRIVER
    mmioWrite(vm, common + 0x08, size: 4, 1)
    mmioWrite(vm, common + 0x0C, size: 4, 1)  // VERSION_1 (bit 32)
    mmioWrite(vm, common + 0x08, size: 4, 0)
    mmioWrite(vm, common + 0x0C, size: 4, UInt64(VirtioFeature.eventIndex))
    mmioWrite(vm, common + 0x14, size: 1, 11)  // | FEATURES_OK
    for vector in 0...queues {
      let entry = table + 16 * UInt64(vector)
      mmioWrite(vm, entry, size: 4, 0xFEE0_0000)
      mmioWrite(vm, entry + 8, size: 4, 0x40 + UInt64(slot * 8 + vector))
      mmioWrite(vm, entry + 12, size: 4, 0)
    }
    mmioWrite(vm, common + 0x10, size: 2, UInt64(queues))  // config vector: the last
    for queue in 0..<queues {
      let rings = Self.ring(slot, queue: queue)
      mmioWrite(vm, common + 0x16, size: 2, UInt64(queue))
      mmioWrite(vm, common + 0x18, size: 2, 8)
      mmioWrite(vm, common + 0x1A, size: 2, UInt64(queue))
      mmioWrite(vm, common + 0x20, size: 8, rings)
      mmioWrite(vm, common + 0x28, size: 8, rings + 0x400)
      mmioWrite(vm, common + 0x30, size: 8, rings + 0x800)
      mmioWrite(vm, common + 0x1C, size: 2, 1)
    }
    mmioWrite(vm, common + 0x14, size: 1, 15)  // | DRIVER_OK
  }

  /// One rng request of 16 bytes made available as ring entry `index`, then the doorbell.
  private func entropyRequest(_ machine: TestMachine, index: UInt16) {
    let vm = machine.vm
    let rings = Self.ring(Self.rngSlot, queue: 0)
    let descriptor = rings + 16 * UInt64(index % 8)
    machine.writeU64(0x30_0000 + 0x100 * UInt64(index), at: descriptor)
    machine.write([16, 0, 0, 0, 2, 0, 0, 0], at: descriptor + 8)  // len 16, WRITE
    machine.write([UInt8(index % 8), 0], at: rings + 0x400 + 4 + 2 * UInt64(index % 8))
    machine.write([UInt8(truncatingIfNeeded: index + 1), 0], at: rings + 0x400 + 2)
    let common = bar(vm, slot: Self.rngSlot, 4)
    mmioWrite(vm, common + 0x3000, size: 2, 0)
  }

  /// Everything else a guest sets: the CF8 latch, the PIC's masks, the pc-testdev's data
  /// and I/O RAM, a level-triggered I/O APIC pin raised (remote IRR set) and its ID.
  private func driveLegacyDevices(_ vm: VirtualMachine) {
    _ = port(vm, 0x21).write(port: 0x21, size: 1, value: 0xB8)
    _ = port(vm, 0xA1).write(port: 0xA1, size: 1, value: 0x8F)
    _ = port(vm, 0x4D0).write(port: 0x4D0, size: 1, value: 0x20)
    _ = port(vm, 0xE0).write(port: 0xE0, size: 4, value: 0xCAFE_F00D)
    mmioWrite(vm, PCTestDevice.ioRAMBase + 0x123, size: 8, 0x0102_0304_0506_0708)
    let ioapic = IOAPICModel.base
    mmioWrite(vm, ioapic, size: 4, 0x10 + 2 * 5)  // pin 5, low: level, vector 0x35
    mmioWrite(vm, ioapic + 0x10, size: 4, 0x8035)
    mmioWrite(vm, ioapic, size: 4, 0)  // IOAPICID
    mmioWrite(vm, ioapic + 0x10, size: 4, 0x0700_0000)
    _ = port(vm, 0x2005).write(port: 0x2005, size: 1, value: 1)
    _ = port(vm, 0xCF8).write(port: 0xCF8, size: 4, value: 0x8000_1010)
  }

  private func drive(_ machine: TestMachine) {
    let vm = machine.vm
    probe(vm, slot: Self.blockSlot, queues: 1)
    probe(vm, slot: Self.netSlot, queues: 2)
    probe(vm, slot: Self.rngSlot, queues: 1)
    entropyRequest(machine, index: 0)
    entropyRequest(machine, index: 1)
    driveLegacyDevices(vm)
  }

  /// Guest reads with no side effect on state: configuration space of every slot, BARs'
  /// common configuration per queue and MSI-X tables, the PIC, pc-testdev and I/O APIC.
  private func guestView(_ vm: VirtualMachine) -> [UInt64] {
    var view: [UInt64] = [UInt64(port(vm, 0xCF8).read(port: 0xCF8, size: 4))]
    let latch = port(vm, 0xCF8).read(port: 0xCF8, size: 4)
    for slot in 0..<5 {
      for offset in stride(from: 0, to: 256, by: 4) {
        view.append(mmioRead(vm, ecam(vm, slot: slot, offset), size: 4))
      }
    }
    for (slot, queues) in [(Self.blockSlot, 1), (Self.netSlot, 2), (Self.rngSlot, 1)] {
      let common = bar(vm, slot: slot, 4)
      let table = bar(vm, slot: slot, 1)
      for offset in [0x10, 0x12, 0x14, 0x15] as [UInt64] {
        view.append(mmioRead(vm, common + offset, size: offset >= 0x14 ? 1 : 2))
      }
      for queue in 0..<queues {
        mmioWrite(vm, common + 0x16, size: 2, UInt64(queue))
        for offset in [0x18, 0x1A, 0x1C, 0x1E] as [UInt64] {
          view.append(mmioRead(vm, common + offset, size: 2))
        }
        for offset in [0x20, 0x28, 0x30] as [UInt64] {
          view.append(mmioRead(vm, common + offset, size: 8))
        }
      }
      for word in 0..<4 * (queues + 1) {
        view.append(mmioRead(vm, table + 4 * UInt64(word), size: 4))
      }
      view.append(mmioRead(vm, common + 0x2000, size: 4))  // device configuration
    }
    _ = port(vm, 0xCF8).write(port: 0xCF8, size: 4, value: latch)
    for ioPort in [0x21, 0xA1, 0x4D0, 0x4D1, 0x20, 0xA0, 0xE0, 0x2005] as [UInt16] {
      view.append(UInt64(port(vm, ioPort).read(port: ioPort, size: ioPort == 0xE0 ? 4 : 1)))
    }
    view.append(mmioRead(vm, PCTestDevice.ioRAMBase + 0x123, size: 8))
    for register in [0, 1, 0x10 + 2 * 5] as [UInt64] {
      mmioWrite(vm, IOAPICModel.base, size: 4, register)
      view.append(mmioRead(vm, IOAPICModel.base + 0x10, size: 4))
    }
    return view
  }

  func testAVMsDevicesRestoreIntoOneBuiltTheSameWay() throws {
    let source = build()
    drive(source)
    let saved = source.vm.saveDevices()
    // The PCI functions follow the tables, slot by slot, each model once.
    XCTAssertEqual(
      saved.suffix(7).map(\.kind),
      [.pciFunction, .virtioPCI, .virtioBlock, .virtioPCI, .virtioNet, .virtioPCI, .virtioEntropy])
    XCTAssertEqual(saved.filter { $0.kind == .pciBus }.count, 1)
    XCTAssertEqual(saved.filter { $0.kind == .pic }.count, 1, "three port ranges, one record")
    guard case .virtioPCI(let rng)? = saved.last(where: { $0.kind == .virtioPCI }) else {
      return XCTFail("no virtio record")
    }
    XCTAssertEqual(rng.queues[0].usedIndex, 2, "two requests served")
    XCTAssertEqual(rng.queues[0].lastAvailable, 2)

    // Through the bytes, as a checkpoint would carry them.
    let whole = SavedVMState(
      memorySize: source.ramSize,
      vcpus: [SavedVMState.VCPU(architectural: VCPUArchitecturalState())],
      devices: saved)
    let decoded = try SavedVMState.decoded(whole.encoded())
    XCTAssertEqual(decoded, whole)

    let target = build()
    // Guest RAM moves separately (another helper's part): copied here so the rings match.
    target.ram.copyMemory(from: source.ram, byteCount: Int(source.ramSize))
    XCTAssertNotEqual(guestView(target.vm), guestView(source.vm), "a fresh VM differs")
    try target.vm.restoreDevices(decoded.devices)
    XCTAssertEqual(target.vm.saveDevices(), saved)
    let view = guestView(target.vm)
    XCTAssertEqual(view.count, 404)
    XCTAssertEqual(view, guestView(source.vm))
    XCTAssertEqual(bar(target.vm, slot: Self.netSlot, 4), Self.movedBAR, "the BAR stays moved")
    XCTAssertEqual(mmioRead(target.vm, Self.movedBAR + 0x14, size: 1), 15, "DRIVER_OK there")

    // Both go on the same way: the next request is served at the same ring position.
    entropyRequest(source, index: 2)
    entropyRequest(target, index: 2)
    XCTAssertEqual(target.vm.saveDevices(), source.vm.saveDevices())
    guard
      case .virtioPCI(let after)? = target.vm.saveDevices().last(where: { $0.kind == .virtioPCI })
    else { return XCTFail("no virtio record") }
    XCTAssertEqual(after.queues[0].usedIndex, 3)
    // The remote IRR came along: the EOI for vector 0x35 delivers again (the line is high).
    let ioapic = target.vm.mmio.entry(for: IOAPICModel.base)!.device as! IOAPICModel
    XCTAssertNotEqual(ioapic.save().entries[5] & 1 << 14, 0)
    ioapic.endOfInterrupt(vector: 0x35)
    XCTAssertNotEqual(ioapic.save().entries[5] & 1 << 14, 0, "delivered again, IRR set again")
  }

  func testAVMBuiltOtherwiseIsRefusedAndNothingChanges() throws {
    let source = build()
    drive(source)
    let saved = source.vm.saveDevices()

    let otherNIC = build(mac: Self.mac + 1)
    let before = otherNIC.vm.saveDevices()
    let netIndex = saved.firstIndex(where: { $0.kind == .virtioNet })!
    XCTAssertThrowsError(try otherNIC.vm.restoreDevices(saved)) { error in
      XCTAssertEqual(error as? DeviceRestoreError, .builtOtherwise(index: netIndex))
    }
    XCTAssertEqual(otherNIC.vm.saveDevices(), before, "nothing restored")

    let noRNG = build(rng: false)
    XCTAssertThrowsError(try noRNG.vm.restoreDevices(saved)) { error in
      XCTAssertEqual(
        error as? DeviceRestoreError, .deviceCount(expected: saved.count - 2, found: saved.count))
    }
    // A function record into another function (the rng's transport into a NIC's).
    var swapped = saved
    let transports = saved.indices.filter { saved[$0].kind == .virtioPCI }
    swapped[transports[1]] = saved[transports[2]]
    let target = build()
    XCTAssertThrowsError(try target.vm.restoreDevices(swapped)) { error in
      XCTAssertEqual(error as? DeviceRestoreError, .builtOtherwise(index: transports[1]))
    }
  }
}
