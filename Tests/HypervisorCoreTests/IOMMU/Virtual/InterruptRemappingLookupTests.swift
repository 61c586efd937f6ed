import HypervisorCore
import XCTest

/// InterruptRemappingLookup (VT-d spec rev 4.1 §5.1.4, §9.10): IRTE decode, the source-id
/// check, every block reason, and I/O APIC entries as messages.
final class InterruptRemappingLookupTests: XCTestCase {
  private let edu = RequesterID(bus: 0, device: 3, function: 0)

  private func lookup(
    _ fixture: VirtualRemappingFixture, table: UInt64, handle: UInt16,
    requester: RequesterID?, enabled: Bool = true, sizeField: UInt64 = 0xF
  ) -> InterruptRemappingLookup.Outcome {
    let message = HostMSIFormat.remappable(handle: handle)
    return InterruptRemappingLookup.remap(
      address: message.address, data: message.data, requester: requester,
      tableAddress: table | sizeField, enabled: enabled, compatibilityAllowed: false,
      memory: fixture.memory)
  }

  func testAPresentEntryGivesItsVectorDestinationAndMode() {
    let fixture = VirtualRemappingFixture()
    let table = fixture.page()
    let entry = InterruptRemappingEntry.fixed(vector: 0xEE, apicID: 2, requester: edu)
    fixture.store64(entry.low | 1 << 4 | 1 << 2, at: table + 16)  // level, logical
    fixture.store64(entry.high, at: table + 24)
    guard case .remapped(let target) = lookup(fixture, table: table, handle: 1, requester: edu)
    else { return XCTFail("not remapped") }
    XCTAssertEqual(target.vector, 0xEE)
    XCTAssertEqual(target.destination, 2)
    XCTAssertTrue(target.logical)
    XCTAssertTrue(target.level)
    XCTAssertEqual(target.deliveryMode, 0)
    XCTAssertEqual(target.message.address, 0xFEE0_2004)
    XCTAssertEqual(target.message.data, 0x80EE)
  }

  func testTheSourceIDCheckWithQualifiers() {
    let fixture = VirtualRemappingFixture()
    let table = fixture.page()
    let entry = InterruptRemappingEntry.fixed(vector: 0x30, apicID: 0, requester: edu)
    fixture.store64(entry.low, at: table)
    fixture.store64(entry.high, at: table + 8)
    let sibling = RequesterID(bus: 0, device: 3, function: 4)
    XCTAssertEqual(
      lookup(fixture, table: table, handle: 0, requester: sibling),
      .blocked(code: 0x26, recordingDisabled: false, index: 0))
    fixture.store64(entry.high | 1 << 16, at: table + 8)  // SQ = 01: ignore function bit 2
    XCTAssertNotEqual(
      lookup(fixture, table: table, handle: 0, requester: sibling),
      .blocked(code: 0x26, recordingDisabled: false, index: 0))
    // SVT = 10: buses 0 through 0.
    fixture.store64(0x0000 | 2 << 18, at: table + 8)
    XCTAssertNotEqual(
      lookup(fixture, table: table, handle: 0, requester: sibling),
      .blocked(code: 0x26, recordingDisabled: false, index: 0))
    XCTAssertEqual(
      lookup(
        fixture, table: table, handle: 0, requester: RequesterID(bus: 1, device: 0, function: 0)),
      .blocked(code: 0x26, recordingDisabled: false, index: 0))
    // The I/O APIC (no requester id) is not checked.
    fixture.store64(entry.high, at: table + 8)
    XCTAssertNotEqual(
      lookup(fixture, table: table, handle: 0, requester: nil),
      .blocked(code: 0x26, recordingDisabled: false, index: 0))
  }

  func testBlockedRequests() {
    let fixture = VirtualRemappingFixture()
    let table = fixture.page()
    XCTAssertEqual(
      lookup(fixture, table: table, handle: 3, requester: edu),
      .blocked(code: 0x22, recordingDisabled: false, index: 3), "not present")
    fixture.store64(2, at: table + 48)  // FPD, not present
    XCTAssertEqual(
      lookup(fixture, table: table, handle: 3, requester: edu),
      .blocked(code: 0x22, recordingDisabled: true, index: 3))
    XCTAssertEqual(
      lookup(fixture, table: table, handle: 2, requester: edu, sizeField: 0),
      .blocked(code: 0x21, recordingDisabled: false, index: 2), "S = 0: two entries")
    fixture.store64(1 | 1 << 15, at: table + 64)  // posted format
    XCTAssertEqual(
      lookup(fixture, table: table, handle: 4, requester: edu),
      .blocked(code: 0x24, recordingDisabled: false, index: 4))
    XCTAssertEqual(
      lookup(fixture, table: 0x8000_0000, handle: 0, requester: edu),
      .blocked(code: 0x23, recordingDisabled: false, index: 0), "table outside RAM")
    let compatibility = HostMSIFormat.compatibility(vector: 0x30, apicID: 0)
    XCTAssertEqual(
      InterruptRemappingLookup.remap(
        address: compatibility.address, data: compatibility.data, requester: edu,
        tableAddress: table, enabled: true, compatibilityAllowed: false, memory: fixture.memory),
      .blocked(code: 0x25, recordingDisabled: false, index: 0))
    XCTAssertEqual(
      InterruptRemappingLookup.remap(
        address: compatibility.address, data: compatibility.data, requester: edu,
        tableAddress: table, enabled: true, compatibilityAllowed: true, memory: fixture.memory),
      .unchanged)
    XCTAssertEqual(
      lookup(fixture, table: table, handle: 3, requester: edu, enabled: false), .unchanged)
  }

  func testRedirectionEntriesAsMessages() {
    // Remappable (bit 48): index 0x8005 = [15] in bit 11, [14:0] in 63:49; vector 0xED.
    let remappable: UInt64 = 0xED | 1 << 11 | 1 << 15 | 1 << 48 | 5 << 49
    let message = InterruptRemappingLookup.message(ofRedirectionEntry: remappable)
    XCTAssertEqual(HostMSIFormat.handle(address: message.address, data: message.data), 0x8005)
    // Compatibility: destination 3, logical, NMI.
    let compatibility: UInt64 = 0x02 | 4 << 8 | 1 << 11 | 3 << 56
    let plain = InterruptRemappingLookup.message(ofRedirectionEntry: compatibility)
    XCTAssertNil(HostMSIFormat.handle(address: plain.address, data: plain.data))
    XCTAssertEqual(plain.address, 0xFEE0_3004)
    XCTAssertEqual(plain.data, 0x402)
  }

  func testTheIOAPICDeliversARemappableEntryWhereTheIRTESays() {
    let fixture = VirtualRemappingFixture()
    let table = fixture.page()
    let vcpus = vcpusWithAPICs(2, clock: NanosecondClock())
    let ioapic = IOAPICModel(id: 2, vcpus: vcpus)
    let unit = VirtualRemappingUnit(memory: fixture.memory, events: nil)
    ioapic.remapping = unit
    let entry = InterruptRemappingEntry.fixed(vector: 0xED, apicID: 1, requester: edu)
    fixture.store64(entry.low, at: table + 16)
    fixture.store64(entry.high, at: table + 24)
    _ = unit.write(
      offset: UInt64(InterruptRemappingRegister.tableAddress), size: 8, value: table | 0xF)
    _ = unit.write(
      offset: UInt64(RemappingRegister.globalCommand), size: 4,
      value: UInt64(
        RemappingGlobalBit.setInterruptTablePointer | RemappingGlobalBit.interruptRemapping))
    // Pin 17: remappable format, index 1, vector field 0xED (for the EOI), edge.
    let rte: UInt64 = 0xED | 1 << 48 | 1 << 49
    for (register, value) in [
      (0x10 + 2 * 17 + 1, UInt32(rte >> 32)), (0x10 + 2 * 17, UInt32(truncatingIfNeeded: rte)),
    ] {
      _ = ioapic.write(offset: 0, size: 4, value: UInt64(register))
      _ = ioapic.write(offset: 0x10, size: 4, value: UInt64(value))
    }
    ioapic.setLevel(pin: 17, high: true)
    XCTAssertNil(takePosted(vcpus[0]))
    XCTAssertEqual(takePosted(vcpus[1]), 0xED, "the IRTE's destination, APIC 1")
    XCTAssertEqual(unit.remappedInterrupts, 1)
    // A compatibility entry is blocked while IRE is on without CFI.
    _ = ioapic.write(offset: 0, size: 4, value: 0x10 + 2 * 5)
    _ = ioapic.write(offset: 0x10, size: 4, value: 0x31)
    ioapic.raise(pin: 5)
    XCTAssertNil(takePosted(vcpus[0]))
    XCTAssertEqual(unit.faults, 1)
  }
}
