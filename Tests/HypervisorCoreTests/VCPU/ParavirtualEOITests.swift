import XCTest

@testable import HypervisorCore

/// KVM's paravirtual EOI (ParavirtualEOI): when the flag is set, what the guest's clearing
/// of it retires, and what survives a capture and a restore.
final class ParavirtualEOITests: XCTestCase {
  private let ramSize = 0x2000
  private let flagAddress: UInt64 = 0x1040
  private var ram: UnsafeMutableRawPointer!
  private var memory = GuestMemoryMap()
  private var apic: LocalAPICModel!
  private var eoi = ParavirtualEOI()
  private let statistics = ExitStatistics()

  override func setUp() {
    ram = .allocate(byteCount: ramSize, alignment: 4096)
    memory = TestGuestRAM.map(ram, size: ramSize)
    apic = LocalAPICModel(id: 0, clock: NanosecondClock())
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)  // software-enabled
    XCTAssertTrue(eoi.write(flagAddress | 1, apic: apic, memory: memory))
  }

  override func tearDown() { ram.deallocate() }

  private var flag: UInt8 {
    get { ram.load(fromByteOffset: Int(flagAddress), as: UInt8.self) }
    set { ram.storeBytes(of: newValue, toByteOffset: Int(flagAddress), as: UInt8.self) }
  }

  private func inService(_ vector: UInt8) -> Bool {
    apic.inService[Int(vector >> 5)] & 1 << UInt32(vector & 31) != 0
  }

  func testTheOfferedVectorIsRetiredByClearingTheFlag() {
    apic.request(0x41)
    let offered = apic.vectorToOffer()
    XCTAssertEqual(offered, 0x41)
    eoi.beforeEntry(apic, offered: offered, memory: memory)
    XCTAssertEqual(flag, 1, "the only request, nothing in service: the next EOI is certain")
    // The guest takes 0x41 (V_IRQ) and its EOI routine clears the flag; then an exit.
    apic.offeredVectorTaken(0x41)
    flag = 0
    eoi.afterExit(apic, statistics: statistics)
    XCTAssertFalse(inService(0x41))
    XCTAssertFalse(eoi.flagSet)
    XCTAssertEqual(statistics.paravirtualEOIs, 1)
  }

  func testAFlagStillSetRetiresNothingAndStaysSet() {
    apic.request(0x41)
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    apic.offeredVectorTaken(0x41)  // taken, handler still running at the exit
    eoi.afterExit(apic, statistics: statistics)
    XCTAssertTrue(inService(0x41))
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    XCTAssertEqual(flag, 1, "0x41 in service, nothing requested: still certain")
    XCTAssertEqual(statistics.paravirtualEOIs, 0)
  }

  func testNotSetWhenAnOfferCouldComeBeforeAnEOIOfAnotherVector() {
    apic.request(0x31)
    apic.acknowledge(0x31)
    apic.request(0x51)  // a higher class: offered while 0x31 is in service
    let offered = apic.vectorToOffer()
    XCTAssertEqual(offered, 0x51)
    eoi.beforeEntry(apic, offered: offered, memory: memory)
    XCTAssertEqual(flag, 0, "the next EOI may retire 0x31 or 0x51: the EOI register decides")
  }

  func testNotSetWithARequestWaitingBehindTheProcessorPriority() {
    apic.request(0x51)
    apic.acknowledge(0x51)
    apic.request(0x41)  // lower class than 0x51: waits
    XCTAssertNil(apic.vectorToOffer())
    eoi.beforeEntry(apic, offered: nil, memory: memory)
    XCTAssertEqual(flag, 0)
  }

  func testAFlagSetEarlierIsClearedWhenTheNextEOIIsNoLongerCertain() {
    apic.request(0x41)
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    apic.offeredVectorTaken(0x41)
    eoi.afterExit(apic, statistics: statistics)
    apic.request(0x61)  // posted while the guest handles 0x41
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    XCTAssertEqual(flag, 0)
    XCTAssertFalse(eoi.flagSet)
  }

  func testALevelEntryAwaitingItsEOIKeepsTheFlagClear() {
    let vm = apicMachine(vcpus: 1, clock: NanosecondClock(), name: "level")
    let ioapic = IOAPICModel(id: 1, vcpus: vm.vcpus)
    // Pin 3: vector 0x38, level (bit 15), physical destination APIC 0 (82093AA §3.2.4).
    _ = ioapic.write(offset: 0x00, size: 4, value: 0x16)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0x38 | 1 << 15)
    ioapic.setLevel(pin: 3, high: true)
    XCTAssertTrue(ioapic.hasEntriesAwaitingEOI)
    apic.endOfInterruptListener = ioapic
    apic.request(0x41)
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    XCTAssertEqual(flag, 0, "remote IRR set: every EOI must reach the I/O APIC as it happens")
    ioapic.setLevel(pin: 3, high: false)
    ioapic.endOfInterrupt(vector: 0x38)
    XCTAssertFalse(ioapic.hasEntriesAwaitingEOI)
  }

  func testAnExternalVectorOfferedThroughLINT0IsNotCovered() {
    apic.offeredExternalVector = 0x20
    eoi.beforeEntry(apic, offered: 0x20, memory: memory)
    XCTAssertEqual(flag, 0, "the 8259's vector never enters the ISR")
  }

  func testMSRWritesTheProcessorWouldRefuse() {
    var other = ParavirtualEOI()
    XCTAssertFalse(other.write(flagAddress | 2 | 1, apic: apic, memory: memory), "misaligned")
    XCTAssertFalse(other.write(0x10_0000 | 1, apic: apic, memory: memory), "outside RAM")
    XCTAssertEqual(other.msrValue, 0)
    XCTAssertTrue(other.write(0x10_0000, apic: apic, memory: memory), "off: no address needed")
    XCTAssertFalse(other.isEnabled)
  }

  func testTurningItOffMakesAnEOIAlreadyMade() {
    apic.request(0x41)
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    apic.offeredVectorTaken(0x41)
    flag = 0  // the guest's EOI, then a WRMSR that turns the feature off
    XCTAssertTrue(eoi.write(0, apic: apic, memory: memory))
    XCTAssertFalse(inService(0x41))
    XCTAssertFalse(eoi.isEnabled)
  }

  func testOffDoesNothing() {
    XCTAssertTrue(eoi.write(0, apic: apic, memory: memory))
    apic.request(0x41)
    eoi.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    XCTAssertEqual(flag, 0)
  }

  func testTheFlagTravelsWithTheSavedState() {
    let vcpu = VirtualCPU(index: 0)
    vcpu.localAPIC = apic
    vcpu.paravirtualEOI = eoi
    apic.request(0x41)
    vcpu.paravirtualEOI.beforeEntry(apic, offered: apic.vectorToOffer(), memory: memory)
    apic.offeredVectorTaken(0x41)
    vcpu.paravirtualEOI.settle(apic, memory: memory)  // the guest has not cleared it
    var state = VCPUArchitecturalState()
    vcpu.captureHeldState(into: &state)
    XCTAssertEqual(
      state.shadowMSRs.last, ShadowMSR(index: ParavirtualEOI.msr, value: flagAddress | 2 | 1))
    var writer = StateWriter()
    state.encodePayload(into: &writer)
    var reader = StateReader(writer.bytes)
    let decoded = try? VCPUArchitecturalState.decodePayload(from: &reader)
    XCTAssertEqual(decoded, state)

    let restored = VirtualCPU(index: 0)
    restored.localAPIC = apic
    restored.applyHeldState(decoded ?? state)
    XCTAssertTrue(restored.shadowMSRs.isEmpty, "not kept as an ordinary shadow MSR")
    XCTAssertEqual(restored.paravirtualEOI.msrValue, flagAddress | 1)
    XCTAssertTrue(restored.paravirtualEOI.flagSet)
    flag = 0  // on the destination, the guest's EOI routine clears it
    restored.paravirtualEOI.afterExit(apic, statistics: statistics)
    XCTAssertEqual(statistics.paravirtualEOIs, 0, "the flag's address is found at the next entry")
    restored.paravirtualEOI.beforeEntry(apic, offered: nil, memory: memory)
    restored.paravirtualEOI.afterExit(apic, statistics: statistics)
    XCTAssertFalse(inService(0x41))
    XCTAssertEqual(statistics.paravirtualEOIs, 1)
  }

  /// A hostile guest: random MSR values (misaligned, straddling the end of RAM, beyond it,
  /// APIC and MMIO addresses, many enables at moving addresses), random clears and sets of
  /// its flag, EOIs with nothing in service, interrupts requested and taken in any order.
  /// The hypervisor's side writes only bit 0 of the byte the MSR names at that moment (every
  /// other byte of RAM keeps what the guest left), accepts only flags wholly inside RAM, and
  /// the APIC never holds in service a vector the guest did not take.
  func testAGuestThatAttacksItCannotReachBeyondItsFlag() {
    var random = SeededGenerator(seed: 0x9E0)
    var taken: Set<UInt8> = []
    let candidates: [UInt64] = [
      0, 1, 2, 3, flagAddress | 1, flagAddress | 3, UInt64(ramSize - 4) | 1,
      UInt64(ramSize - 2) | 1, UInt64(ramSize) | 1, 0xFEE0_0000 | 1, 0xFEC0_0000 | 1,
      UInt64.max, 1 << 52 | 1,
    ]
    for round in 0..<4_000 {
      var before = [UInt8](repeating: 0, count: ramSize)
      for index in 0..<ramSize { before[index] = ram.load(fromByteOffset: index, as: UInt8.self) }
      let enabledAt = eoi.isEnabled ? Int(eoi.msrValue & ~3) : nil
      switch random.next() % 8 {
      case 0:
        let value =
          random.next() % 2 == 0
          ? candidates[Int(random.next() % UInt64(candidates.count))]
          : (random.next() % UInt64(ramSize + 64)) | (random.next() & 3)
        let accepted = eoi.write(value, apic: apic, memory: memory)
        let address = value & ~3
        let fits = value & 2 == 0 && (value & 1 == 0 || address + 4 <= UInt64(ramSize))
        XCTAssertEqual(accepted, fits, "round \(round): MSR value \(String(value, radix: 16))")
      case 1:
        let vector = UInt8(0x20 + random.next() % 0xD0)
        apic.request(vector)
      case 2:
        let offered = apic.vectorToOffer()
        eoi.beforeEntry(apic, offered: offered, memory: memory)
        if let offered, random.next() % 2 == 0 {
          apic.offeredVectorTaken(offered)
          taken.insert(offered)
        }
      case 3:
        eoi.beforeEntry(apic, offered: nil, memory: memory)
      case 4:
        if let enabledAt {
          ram.storeBytes(of: UInt8(random.next() & 0xFF), toByteOffset: enabledAt, as: UInt8.self)
        }
      case 5:
        _ = apic.write(offset: 0xB0, size: 4, value: 0)  // the EOI register, in service or not
      default:
        eoi.afterExit(apic, statistics: statistics)
      }
      // What the guest itself wrote in case 4 is its own: compare everything else.
      let flagNow = eoi.isEnabled ? Int(eoi.msrValue & ~3) : nil
      for index in 0..<ramSize where index != enabledAt && index != flagNow {
        let now = ram.load(fromByteOffset: index, as: UInt8.self)
        if now != before[index] {
          XCTFail("round \(round): byte \(index) changed outside the flag")
          return
        }
      }
      if let flagNow, eoi.flagSet {
        XCTAssertEqual(ram.load(fromByteOffset: flagNow, as: UInt8.self) & 1, 1)
      }
      for vector in 0..<256 where inService(UInt8(vector)) {
        XCTAssertTrue(taken.contains(UInt8(vector)), "vector \(vector) in service, never taken")
      }
    }
  }

  func testINITTurnsItOff() {
    let vcpu = VirtualCPU(index: 1)
    vcpu.localAPIC = apic
    vcpu.paravirtualEOI = eoi
    vcpu.receiveINIT()
    XCTAssertEqual(vcpu.paravirtualEOI.msrValue, 0)
  }

  func testTheCPUIDLeavesLinuxLooksFor() {
    let signature = CPUIDPolicy.apply(
      leaf: 0x4000_0100, subleaf: 0, host: CPUIDLeaf(), vcpuIndex: 0, hasLocalAPIC: true)
    var bytes: [UInt8] = []
    for register in [signature.ebx, signature.ecx, signature.edx] {
      for shift in stride(from: 0, to: 32, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: register >> UInt32(shift)))
      }
    }
    XCTAssertEqual(bytes, Array("KVMKVMKVM".utf8) + [0, 0, 0])
    XCTAssertEqual(signature.eax, 0x4000_0101)
    let features = CPUIDPolicy.apply(
      leaf: 0x4000_0101, subleaf: 0, host: CPUIDLeaf(), vcpuIndex: 0, hasLocalAPIC: true)
    XCTAssertEqual(features, CPUIDLeaf(eax: 1 << 6))
    let withoutAPIC = CPUIDPolicy.apply(
      leaf: 0x4000_0100, subleaf: 0, host: CPUIDLeaf(), vcpuIndex: 0, hasLocalAPIC: false)
    XCTAssertEqual(withoutAPIC, CPUIDLeaf())
    XCTAssertEqual(MSRPolicy(vendor: .amd).rule(for: 0x4B56_4D04), .paravirtualEOI)
  }
}
