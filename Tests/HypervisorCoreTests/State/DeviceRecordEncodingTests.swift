import XCTest

@testable import HypervisorCore

/// The records of the PCI platform, the virtio devices, the 8259 pair and the pc-testdev,
/// and the I/O APIC's version 2 record: each round-trips, every truncation is refused, and
/// seeded random mutations never trap and re-encode to the same bytes when accepted (as
/// StateEncodingTests does for the older records).
final class DeviceRecordEncodingTests: XCTestCase {
  private func sampleVirtio() -> VirtioPCIFunction.State {
    var image = VirtualHostBridge().configuration.savedImage
    image[0x04] = 0x06
    image[0x20] = 0x0C
    image[0x23] = 0xC0
    return VirtioPCIFunction.State(
      configuration: image, status: 0x0F, deviceFeatureSelect: 1, driverFeatureSelect: 1,
      driverFeatures: VirtioFeature.version1 | VirtioFeature.eventIndex, configurationVector: 2,
      queueSelect: 1, generation: 3, interruptStatus: 1,
      queues: [
        VirtioPCIFunction.QueueState(
          size: 256, descriptorTable: 0x20_0000, driverArea: 0x20_1000, deviceArea: 0x20_2000,
          vector: 0, enabled: true, lastAvailable: 0xFFFE, usedIndex: 0xFFFD,
          interruptWanted: true),
        VirtioPCIFunction.QueueState(
          size: 8, descriptorTable: 0, driverArea: 0, deviceArea: 0, vector: 0xFFFF,
          enabled: false, lastAvailable: 0, usedIndex: 0, interruptWanted: false),
      ],
      vectors: [
        VirtioPCIFunction.VectorState(address: 0xFEE0_0000, data: 0x41, control: 0, pending: false),
        VirtioPCIFunction.VectorState(address: 0xFEE0_1000, data: 0x42, control: 1, pending: true),
        VirtioPCIFunction.VectorState(address: 0, data: 0, control: 1, pending: false),
      ])
  }

  private func samples() -> [SavedDevice] {
    let pic = PIC8259Pair.afterFirmware()
    _ = pic.write(port: 0x21, size: 1, value: 0xFB)
    _ = pic.write(port: 0x4D1, size: 1, value: 0x0E)
    pic.setLevel(line: 9, high: true)
    _ = pic.write(port: 0xA0, size: 1, value: 0x0B)  // OCW3: read ISR
    var ram = PCTestIORAM.State()
    ram.bytes[0] = 1
    ram.bytes[0xFFFF] = 0xFF
    var block = VirtioBlockDevice.State()
    block.capacity = 2048
    block.readOnly = true
    block.negotiatedFeatures = VirtioFeature.version1 | VirtioBlockFeature.flush
    var ioapic = IOAPICModel.State()
    ioapic.entries[5] = 0x0100_0000_0000_C035  // level, remote IRR
    ioapic.id = 7
    ioapic.lineLevels = 1 << 5 | 1 << 23
    return [
      .pciBus(VirtualPCIBus.State(addressLatch: 0x8000_1810, occupiedSlots: 0b1111)),
      .pciFunction(PCIFunctionState(configuration: VirtualHostBridge().configuration.savedImage)),
      .virtioPCI(sampleVirtio()),
      .virtioBlock(block),
      .virtioNet(VirtioNetDevice.State(mac: 0x5254_0012_3456)),
      .virtioNet(
        VirtioNetDevice.State(
          mac: 0x0200_0000_0001,
          receiveFault: .bufferOutsideMemory(address: 0x1234_5000, length: 1514))),
      .virtioNet(
        VirtioNetDevice.State(mac: 2, receiveFault: .indexJumped(from: 0xFFFF, to: 0x0102))),
      .virtioEntropy(VirtioEntropyDevice.State()),
      .pic(pic.save()),
      .pcTestDevice(PCTestDevice.State(data: 0xCAFE_F00D, lineLevels: 1 << 23)),
      .pcTestIORAM(ram),
      .ioAPIC(ioapic),
      .cmosClock(sampleCMOS()),
    ]
  }

  /// An RTC held by SET, with RAM written and the time set 40 years back.
  private func sampleCMOS() -> CMOSClock.State {
    var bytes = [UInt8](repeating: 0, count: 128)
    bytes[0x0A] = 0x26
    bytes[0x0B] = 0x86  // SET, binary, 24-hour
    bytes[0x09] = 26
    bytes[0x40] = 0xA5
    return CMOSClock.State(
      index: 0x0B, nmiDisabled: true, bytes: bytes, offsetSeconds: -1_262_304_000,
      flagsReadAt: 1_796_400_000)
  }

  /// Decodes one record by its kind and encodes it again.
  private func roundTrip(_ bytes: [UInt8]) -> Result<[UInt8], StateDecodingError> {
    do throws(StateDecodingError) {
      let entries = try StateRecord.entries(in: bytes)
      guard entries.count == 1 else { return .failure(.trailingBytes(at: 0)) }
      return .success(try SavedDevice.decoded(entries[0]).encoded())
    } catch {
      return .failure(error)
    }
  }

  func testEveryRecordRoundTrips() throws {
    for sample in samples() {
      let bytes = sample.encoded()
      XCTAssertEqual(bytes[6], sample.kind.rawValue)
      XCTAssertEqual(Array(bytes[4..<6]), [3, 0], "format version 3")
      let entries = try StateRecord.entries(in: bytes)
      XCTAssertEqual(try SavedDevice.decoded(entries[0]), sample, "kind \(sample.kind)")
    }
  }

  func testEveryFaultRoundTrips() throws {
    let faults: [VirtqueueFault] = [
      .invalidSize(3), .invalidArea(address: 0xFFFF_FFFF_FFFF_F000), .indexJumped(from: 1, to: 2),
      .descriptorOutOfRange(77), .descriptorLoop, .bufferOutsideMemory(address: 5, length: 6),
      .readableAfterWritable, .nestedIndirect, .invalidIndirectTable(length: 17),
      .chainTooLarge(UInt64.max),
    ]
    for fault in faults {
      let state = VirtioNetDevice.State(mac: 1, receiveFault: fault)
      XCTAssertEqual(try VirtioNetDevice.State.decoded(state.encoded()), state)
    }
  }

  func testImpossibleValuesAreRefusedPrecisely() {
    let payload = StateRecord.headerSize
    var bytes = SavedDevice.pciBus(VirtualPCIBus.State(addressLatch: 0x8000_0000, occupiedSlots: 1))
      .encoded()
    bytes[payload] = 0x01  // latch bits 1:0 are never set
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload)))
    // virtio: the ISR after the image and 1+4+4+8+2+2+1 bytes of registers.
    let isr = payload + 256 + 22
    bytes = SavedDevice.virtioPCI(sampleVirtio()).encoded()
    XCTAssertEqual(bytes[isr], 1)
    bytes[isr] = 4
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: isr)))
    // The queue count, over 63.
    bytes = SavedDevice.virtioPCI(sampleVirtio()).encoded()
    bytes[isr + 1] = 64
    XCTAssertEqual(
      roundTrip(bytes), .failure(.countOutOfRange(at: isr + 1, count: 64, maximum: 63)))
    // A disabled queue (the second) with a ring index.
    let second = isr + 3 + 34
    bytes = SavedDevice.virtioPCI(sampleVirtio()).encoded()
    bytes[second + 29] = 1  // last_avail_idx's low byte
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: second + 31)))
    // A PIC vector base with bits 2:0 set; the slave's IRQ 8 level-triggered.
    bytes = SavedDevice.pic(PIC8259Pair.afterFirmware().save()).encoded()
    bytes[payload + 5] = 0x09
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 5)))
    bytes = SavedDevice.pic(PIC8259Pair.afterFirmware().save()).encoded()
    bytes[payload + 9 + 4] = 0x01
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 9 + 4)))
    // An I/O APIC entry with delivery status, an ID over 4 bits.
    bytes = SavedDevice.ioAPIC(IOAPICModel.State()).encoded()
    bytes[payload + 4 + 1] = 0x10
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 4)))
    bytes = SavedDevice.ioAPIC(IOAPICModel.State()).encoded()
    bytes[payload + 4 + 24 * 8] = 0x10
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 4 + 24 * 8)))
    // A NIC fault tag past the last case, an operand the case does not have.
    bytes = SavedDevice.virtioNet(VirtioNetDevice.State(mac: 1)).encoded()
    bytes[payload + 8] = 11
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 8)))
    bytes[payload + 8] = 5
    bytes[payload + 9] = 1
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 8)))
    // An RTC index over 0x7F, an NMI flag of 2, a stored UIP or register C.
    bytes = SavedDevice.cmosClock(sampleCMOS()).encoded()
    bytes[payload] = 0x80
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload)))
    bytes = SavedDevice.cmosClock(sampleCMOS()).encoded()
    bytes[payload + 1] = 2
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 1)))
    for register in [0x0A, 0x0C] {
      bytes = SavedDevice.cmosClock(sampleCMOS()).encoded()
      bytes[payload + 2 + register] |= 0x80
      XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: payload + 2)))
    }
  }

  func testEveryTruncationIsRefused() {
    for sample in samples() {
      let record = sample.encoded()
      for length in 0..<record.count {
        guard case .failure = roundTrip(Array(record.prefix(length))) else {
          return XCTFail("kind \(sample.kind) decoded from \(length) of \(record.count) bytes")
        }
      }
    }
  }

  func testSeededRandomMutationsNeverTrap() {
    var generator = SeededGenerator(state: 0x5043_4956_4952_5449)
    // Without the 64 KiB I/O RAM: a byte of it changed is always valid.
    let records = samples().filter { $0.kind != .pcTestIORAM }.map { $0.encoded() }
    var accepted = 0
    var refused = 0
    for round in 0..<20_000 {
      var bytes = records[Int.random(in: 0..<records.count, using: &generator)]
      if round % 5 == 0 {
        bytes.removeLast(Int.random(in: 0...min(8, bytes.count), using: &generator))
      }
      for _ in 0..<Int.random(in: 1...4, using: &generator) {
        let at = Int.random(in: 0..<bytes.count, using: &generator)
        bytes[at] = UInt8.random(in: 0...255, using: &generator)
      }
      switch roundTrip(bytes) {
      case .success(let again):
        accepted += 1
        XCTAssertEqual(again, bytes, "round \(round)")
      case .failure:
        refused += 1
      }
    }
    XCTAssertGreaterThan(accepted, 1000, "mutated records whose changes stay valid decode")
    XCTAssertGreaterThan(refused, 1000)
  }
}
