import XCTest

@testable import HypervisorCore

final class InterruptRemappingTests: XCTestCase {
  let nic = RequesterID(bus: 0, device: 2, function: 0)
  let edu = RequesterID(bus: 0, device: 0x12, function: 0)

  /// §9.10: P, vector 0x48 in 23:16, APIC ID 3 in 47:40 (xAPIC), fixed/edge/physical
  /// (bits 7:2 zero); high: SID 00:12.0 = 0x0090, SQ = 00, SVT = 01 (bit 18).
  func testEntryEncoding() {
    let entry = InterruptRemappingEntry.fixed(vector: 0x48, apicID: 3, requester: edu)
    XCTAssertEqual(entry.low, 0x0000_0300_0048_0001)
    XCTAssertEqual(entry.high, 0x0004_0090)
    XCTAssertTrue(entry.present)
    XCTAssertEqual(entry.vector, 0x48)
    XCTAssertEqual(entry.apicID, 3)
    XCTAssertEqual(entry.sourceID, 0x90)
    XCTAssertEqual(entry.sourceValidation, 1)
    XCTAssertEqual(entry.low & 0xFC, 0, "fixed delivery, edge, physical, no redirection hint")
    XCTAssertFalse(InterruptRemappingEntry.notPresent.present)
  }

  /// §5.1.5.2: bit 4 set, handle[14:0] in 19:5, handle[15] in 2, SHV with subhandle 0.
  func testRemappableMessage() {
    let low = HostMSIFormat.remappable(handle: 5)
    XCTAssertEqual(low.address, 0xFEE0_00B8)
    XCTAssertEqual(low.data, 0)
    XCTAssertEqual(HostMSIFormat.handle(address: low.address, data: low.data), 5)
    let high = HostMSIFormat.remappable(handle: 0x8001)
    XCTAssertEqual(high.address, 0xFEE0_003C)
    XCTAssertEqual(HostMSIFormat.handle(address: high.address, data: 0), 0x8001)
    XCTAssertEqual(HostMSIFormat.handle(address: 0xFEE0_0038, data: 2), 0x0003, "SHV adds data")
    let compatibility = HostMSIFormat.compatibility(vector: 0x40, apicID: 1)
    XCTAssertEqual(compatibility.address, 0xFEE0_1000)
    XCTAssertEqual(compatibility.data, 0x40)
    XCTAssertNil(HostMSIFormat.handle(address: compatibility.address, data: compatibility.data))
  }

  func testTableAndQueueRegisters() {
    XCTAssertEqual(InterruptRemappingTable.registerValue(table: 0x12_3000), 0x12_3007)
    XCTAssertEqual(1 << (InterruptRemappingTable.sizeField + 1), 256)
    XCTAssertEqual(InvalidationQueue.addressValue(queue: 0x45_6000), 0x45_6000)
    XCTAssertEqual(InvalidationQueue.register(index: 3), 0x30)
    XCTAssertEqual(InvalidationQueue.register(index: 256), 0, "the tail wraps")
    XCTAssertEqual(InvalidationQueue.index(register: 0xFF0), 255)
  }

  /// §6.5.2: type in 3:0, granularity, DID, IEC index, wait with status write.
  func testInvalidationDescriptors() {
    XCTAssertEqual(QueuedInvalidationDescriptor.contextGlobal.low, 0x11)
    XCTAssertEqual(QueuedInvalidationDescriptor.contextDomain(7).low, 0x7_0021)
    XCTAssertEqual(QueuedInvalidationDescriptor.iotlbGlobal.low, 0xD2)
    XCTAssertEqual(QueuedInvalidationDescriptor.iotlbDomain(2).low, 0x2_00E2)
    XCTAssertEqual(QueuedInvalidationDescriptor.interruptEntriesGlobal.low, 0x4)
    XCTAssertEqual(QueuedInvalidationDescriptor.interruptEntry(9).low, 0x9_0000_0014)
    let wait = QueuedInvalidationDescriptor.wait(status: 0xABCD, address: 0x10_2003)
    XCTAssertEqual(wait.low, 0xABCD_0000_0065)
    XCTAssertEqual(wait.high, 0x10_2000)
    for descriptor in [
      QueuedInvalidationDescriptor.contextGlobal, .iotlbGlobal, .interruptEntriesGlobal, wait,
    ] {
      XCTAssertEqual(descriptor.low & 0xE00, 0, "bits 11:9 (type high bits) stay zero")
    }
  }

  func testAllocatorReusesAndReleases() {
    var table = InterruptRemappingAllocator(entries: 3)
    XCTAssertEqual(table.allocate(requester: nic, vector: 0x40, apicID: 0), 0)
    XCTAssertEqual(table.allocate(requester: edu, vector: 0x48, apicID: 0), 1)
    XCTAssertEqual(table.allocate(requester: edu, vector: 0x48, apicID: 0), 1, "same source")
    XCTAssertEqual(table.allocate(requester: edu, vector: 0x49, apicID: 0), 2)
    XCTAssertNil(table.allocate(requester: nic, vector: 0x41, apicID: 0), "full")
    XCTAssertEqual(table.used, 3)
    XCTAssertEqual(table.release(requester: edu), [1, 2])
    XCTAssertEqual(table.release(requester: edu), [])
    XCTAssertEqual(table.used, 1)
    XCTAssertEqual(table.allocate(requester: nic, vector: 0x41, apicID: 0), 1)
  }

  /// §11.4.14: an interrupt fault's FI carries the index in 63:48; reasons 0x20-0x26.
  func testInterruptFaultDecoding() {
    let high: UInt64 = 1 << 63 | 0x26 << 32 | 0x0090
    let fault = RemappingFault(low: 0x0005_0000_0000_0000, high: high)
    XCTAssertEqual(fault?.reason, .interruptSourceInvalid)
    XCTAssertEqual(fault?.interruptIndex, 5)
    XCTAssertEqual(fault?.requester, edu)
    XCTAssertEqual(fault?.isInterruptFault, true)
    let reasons: [UInt8: RemappingFaultReason] = [
      0x20: .interruptRequestReserved, 0x21: .interruptIndexBeyondTable,
      0x22: .interruptEntryNotPresent, 0x23: .interruptTableUnreadable,
      0x24: .interruptEntryReserved, 0x25: .compatibilityInterruptBlocked,
      0x26: .interruptSourceInvalid,
    ]
    for (code, reason) in reasons {
      XCTAssertEqual(RemappingFaultReason(code: code), reason)
      XCTAssertTrue(reason.isInterruptRemapping)
    }
    XCTAssertFalse(RemappingFaultReason(code: 0x5).isInterruptRemapping)
    XCTAssertEqual(RemappingFaultReason(code: 0x27), .other(0x27))
  }
}
