import HypervisorCore
import XCTest

final class StateEncodingTests: XCTestCase {
  private func sampleVCPU() -> VCPUArchitecturalState {
    var state = VCPUArchitecturalState()
    for number in 0..<16 { state.registers[number] = UInt64(number) << 56 | 0xABCD }
    state.registers.rip = 0xFFFF_FFFF_8100_0000
    state.registers.rflags = 0x246
    state.cr0 = 0x8005_0033
    state.cr3 = 0x1000
    state.cr4 = 0x6A0
    state.cr8 = 0xF
    state.efer = 0xD01
    state.cs = SegmentState(
      selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: SegmentAttributes(rawValue: 0xA9B))
    state.gs.base = 0xFFFF_8880_0000_0000
    state.gdtr = DescriptorTableState(base: 0xFFFF_FE00_0000_1000, limit: 0x7F)
    state.lstar = 0xFFFF_FFFF_8160_0040
    state.tscOffset = UInt64.max - 5
    state.pendingEvent = .exception(vector: 13, errorCode: 0x18)
    state.nmiBlocked = true
    state.interruptShadow = .movSS
    state.activity = .waitingForStartup
    state.floatingPoint = (0..<512).map { UInt8(truncatingIfNeeded: $0) }
    state.shadowMSRs = [ShadowMSR(index: 0x1A0, value: 1), ShadowMSR(index: 0xC001_0015, value: 2)]
    state.timeStampCounterAuxiliary = 0x8765_4321
    state.protectionKeyRights = 0x5555_000C
    state.supervisorProtectionKeyRights = 0x0000_0030
    return state
  }

  private func sampleLocalAPIC() -> LocalAPICModel.State {
    var state = LocalAPICModel.State()
    state.baseMSR |= LocalAPICModel.x2APICEnable | LocalAPICModel.bootstrapProcessor
    state.taskPriority = 0x20
    state.spurious = 0x1FF
    state.localVectorTable[0] = 0x2_0040
    state.initialCount = 1000
    state.timerRemainingNanoseconds = 123_456
    state.requests[2] = 1 << 17
    state.inService[3] = 1
    state.pendingNMIs = 2
    return state
  }

  private func sampleRecords() -> [[UInt8]] {
    var pit = PIT8254.State()
    pit.channels[0].mode = 2
    pit.channels[0].reload = 0x3000
    pit.channels[0].counting = true
    pit.channels[0].elapsedNanoseconds = 4_321_000
    pit.channels[1].latched = 0x1234
    pit.portB = 1
    var uart = UART16550.State()
    uart.divisor = 12
    uart.transmitted = 99
    uart.transmitterEmptyPending = true
    var ioapic = IOAPICModel.State()
    ioapic.entries[3] = 0x0100_0000_0000_A031
    ioapic.select = 0x17
    var power = ACPIPowerDevice.State()
    power.enable = 0x121
    var device = TestMMIODevice.State()
    device.scratch = 7
    return [
      sampleVCPU().encoded(), uart.encoded(), pit.encoded(), sampleLocalAPIC().encoded(),
      ioapic.encoded(), power.encoded(), device.encoded(), ResetDevice.State().encoded(),
      DebugExitPort.State().encoded(),
      ACPIPMTimer.State(elapsedNanoseconds: 987_654_321).encoded(),
      FirmwareConfig.State(selector: 5, offset: 1).encoded(),
    ]
  }

  /// Decodes `bytes` as the record its kind byte names (or as a vCPU) and encodes it again.
  private func roundTrip(_ bytes: [UInt8]) -> Result<[UInt8], StateDecodingError> {
    let kind = bytes.count > 6 ? bytes[6] : 1
    do throws(StateDecodingError) {
      switch StateRecordKind(rawValue: kind) {
      case .uart: return .success(try UART16550.State.decoded(bytes).encoded())
      case .pit: return .success(try PIT8254.State.decoded(bytes).encoded())
      case .localAPIC: return .success(try LocalAPICModel.State.decoded(bytes).encoded())
      case .ioAPIC: return .success(try IOAPICModel.State.decoded(bytes).encoded())
      case .acpiPower: return .success(try ACPIPowerDevice.State.decoded(bytes).encoded())
      case .testMMIO: return .success(try TestMMIODevice.State.decoded(bytes).encoded())
      case .reset: return .success(try ResetDevice.State.decoded(bytes).encoded())
      case .debugExit: return .success(try DebugExitPort.State.decoded(bytes).encoded())
      case .pmTimer: return .success(try ACPIPMTimer.State.decoded(bytes).encoded())
      case .firmwareConfig: return .success(try FirmwareConfig.State.decoded(bytes).encoded())
      default: return .success(try VCPUArchitecturalState.decoded(bytes).encoded())
      }
    } catch {
      return .failure(error)
    }
  }

  func testEveryRecordRoundTrips() throws {
    XCTAssertEqual(try VCPUArchitecturalState.decoded(sampleVCPU().encoded()), sampleVCPU())
    XCTAssertEqual(try LocalAPICModel.State.decoded(sampleLocalAPIC().encoded()), sampleLocalAPIC())
    for record in sampleRecords() {
      XCTAssertEqual(try roundTrip(record).get(), record, "kind \(record[6])")
    }
  }

  /// Version 3's vCPU fields: TSC_AUX (u64), PKRU and PKRS (u32 each), the record's last 16
  /// bytes; a TSC_AUX with reserved bits (63:32) set is refused where it stands.
  func testTSCAuxPKRUAndPKRSEndTheVCPURecord() {
    let bytes = sampleVCPU().encoded()
    XCTAssertEqual(
      Array(bytes[(bytes.count - 16)...]),
      [0x21, 0x43, 0x65, 0x87, 0, 0, 0, 0, 0x0C, 0x00, 0x55, 0x55, 0x30, 0, 0, 0])
    var reserved = bytes
    reserved[bytes.count - 12] = 1  // TSC_AUX bit 32
    XCTAssertThrowsError(try VCPUArchitecturalState.decoded(reserved)) { error in
      XCTAssertEqual(error as? StateDecodingError, .invalidValue(at: bytes.count - 16))
    }
  }

  /// The local APIC's last byte is its NMIs not yet taken: 0...2 (a flag, 0 or 1, before),
  /// so records written with the flag decode unchanged and 3 is refused.
  func testTheLocalAPICsNMICountKeepsTheFlagsByte() throws {
    var state = sampleLocalAPIC()
    state.pendingNMIs = 1
    var bytes = state.encoded()
    XCTAssertEqual(bytes.last, 1, "one latched NMI: the old flag's encoding")
    XCTAssertEqual(try LocalAPICModel.State.decoded(bytes).pendingNMIs, 1)
    bytes[bytes.count - 1] = 2
    XCTAssertEqual(try LocalAPICModel.State.decoded(bytes).pendingNMIs, 2)
    bytes[bytes.count - 1] = 3
    XCTAssertThrowsError(try LocalAPICModel.State.decoded(bytes)) { error in
      XCTAssertEqual(error as? StateDecodingError, .invalidValue(at: bytes.count - 1))
    }
  }

  func testTheHeaderIsLittleEndianAndVersioned() {
    let bytes = sampleVCPU().encoded()
    XCTAssertEqual(Array(bytes[0..<4]), Array("PGST".utf8))
    XCTAssertEqual(Array(bytes[4..<7]), [3, 0, 1], "version 3, kind vCPU")
    let length = Int(bytes[7]) | Int(bytes[8]) << 8 | Int(bytes[9]) << 16 | Int(bytes[10]) << 24
    XCTAssertEqual(length, bytes.count - StateRecord.headerSize)
    XCTAssertEqual(Array(bytes[11..<13]), [0xCD, 0xAB], "RAX, low byte first")
  }

  func testMalformedRecordsAreRefusedPrecisely() {
    let good = sampleVCPU().encoded()
    var bytes = good
    bytes[0] = 0
    XCTAssertEqual(roundTrip(bytes), .failure(.badMagic))
    bytes = good
    bytes[4] = 1  // version 1: the I/O APIC record was shorter
    XCTAssertEqual(roundTrip(bytes), .failure(.unsupportedVersion(1)))
    bytes[4] = 2  // version 2: the vCPU record had no TSC_AUX and PKRU
    XCTAssertEqual(roundTrip(bytes), .failure(.unsupportedVersion(2)))
    XCTAssertThrowsError(try UART16550.State.decoded(good)) { error in
      XCTAssertEqual(error as? StateDecodingError, .wrongKind(expected: 2, found: 1))
    }
    XCTAssertEqual(roundTrip(good + [0]), .failure(.trailingBytes(at: good.count)))
    bytes = good
    bytes[7] &+= 1  // the length claims a byte more than there is
    XCTAssertEqual(
      roundTrip(bytes),
      .failure(.lengthMismatch(declared: good.count - 10, actual: good.count - 11)))
    // CS attributes (the second segment) above 12 bits.
    let csAttributes = StateRecord.headerSize + 18 * 8 + 6 * 8 + 16 + 2
    bytes = good
    bytes[csAttributes + 1] = 0x10
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: csAttributes)))
    // The pending event's tag, after the eight segments, two tables and twelve MSRs.
    let eventTag = StateRecord.headerSize + 24 * 8 + 8 * 16 + 2 * 10 + 12 * 8
    XCTAssertEqual(good[eventTag], 2, "exception with an error code")
    bytes = good
    bytes[eventTag] = 9
    XCTAssertEqual(roundTrip(bytes), .failure(.invalidValue(at: eventTag)))
    // The shadow MSR count, before the MSRs and the 16 bytes of TSC_AUX, PKRU and PKRS.
    let count = good.count - 16 - 2 * 12 - 2
    bytes = good
    bytes[count] = 0x01
    bytes[count + 1] = 0x01  // 257
    XCTAssertEqual(
      roundTrip(bytes), .failure(.countOutOfRange(at: count, count: 257, maximum: 256)))
  }

  func testEveryTruncationIsRefused() {
    for record in sampleRecords() {
      for length in 0..<record.count {
        let cut = Array(record.prefix(length))
        guard case .failure = roundTrip(cut) else {
          return XCTFail("kind \(record[6]) decoded from \(length) of \(record.count) bytes")
        }
      }
    }
  }

  /// Random bytes, and valid records with random bytes changed: decoding never traps, and
  /// whatever it accepts encodes back to exactly the same bytes.
  func testSeededRandomBytesNeverTrap() {
    var generator = SeededGenerator(state: 0x5045_5245_4752_494E)
    let records = sampleRecords()
    var accepted = 0
    var refused = 0
    for round in 0..<20_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        let length = Int.random(in: 0..<700, using: &generator)
        bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        if round % 4 == 0 && bytes.count >= 11 {
          bytes.replaceSubrange(0..<4, with: StateRecord.magic)
          bytes[4] = UInt8(StateRecord.version)
          bytes[5] = 0
          bytes[6] = UInt8.random(in: 1...9, using: &generator)
          let payload = UInt32(bytes.count - 11)
          for index in 0..<4 {
            bytes[7 + index] = UInt8(truncatingIfNeeded: payload >> (8 * index))
          }
        }
      } else {
        bytes = records[Int.random(in: 0..<records.count, using: &generator)]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
          let at = Int.random(in: 0..<bytes.count, using: &generator)
          bytes[at] = UInt8.random(in: 0...255, using: &generator)
        }
      }
      switch roundTrip(bytes) {
      case .success(let again):
        accepted += 1
        XCTAssertEqual(again, bytes, "round \(round)")
      case .failure:
        refused += 1
      }
    }
    XCTAssertGreaterThan(accepted, 100, "mutated records whose changes stay valid decode")
    XCTAssertGreaterThan(refused, 10_000)
  }
}

extension StateEncodingTests {
  func testRecordsThatFollowOneAnotherSplitByKind() throws {
    let records = sampleRecords()
    let entries = try StateRecord.entries(in: records.flatMap { $0 })
    XCTAssertEqual(entries.map(\.bytes), records)
    // Every device and vCPU kind; the VM header (10) starts a whole VM's state, not a sample.
    XCTAssertEqual(entries.map(\.kind.rawValue), Array(1...9) + [11, 12])
    // A payload cut short; a header cut short.
    let cut = Array((records + [records[0]]).flatMap { $0 }.dropLast())
    XCTAssertThrowsError(try StateRecord.entries(in: cut)) { error in
      XCTAssertEqual(
        error as? StateDecodingError,
        .lengthMismatch(declared: records[0].count - 11, actual: records[0].count - 12))
    }
    // The last record (fw_cfg) has a 6-byte payload: 7 bytes off cut into its 11-byte header.
    let lastPayload = records[records.count - 1].count - 11
    XCTAssertThrowsError(
      try StateRecord.entries(in: Array(records.flatMap { $0 }.dropLast(lastPayload + 1)))
    ) {
      error in
      guard case .truncated = error as? StateDecodingError else { return XCTFail("\(error)") }
    }
    var unknown = records[0]
    unknown[6] = 0x42
    XCTAssertThrowsError(try StateRecord.entries(in: unknown)) { error in
      XCTAssertEqual(error as? StateDecodingError, .invalidValue(at: 6))
    }
  }
}
