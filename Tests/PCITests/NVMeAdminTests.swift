import XCTest

@testable import PCI

final class NVMeAdminTests: XCTestCase {
  func testVirtualizationManagementAndIdentifyEncoding() {
    // §5.22: Secondary Assign (8) of 4 VQ resources (RT 0) to controller 1.
    let assign = NVMeAdmin.virtualization(
      .secondaryAssign, resource: .queues, controller: 1, count: 4, id: 7)
    XCTAssertEqual(assign.count, 16)
    XCTAssertEqual(assign[0], 0x0007_001C)
    XCTAssertEqual(assign[10], 0x0001_0008)
    XCTAssertEqual(assign[11], 4)
    let interrupts = NVMeAdmin.virtualization(
      .secondaryAssign, resource: .interrupts, controller: 2, count: 2, id: 1)
    XCTAssertEqual(interrupts[10], 0x0002_0108)
    XCTAssertEqual(
      NVMeAdmin.virtualization(.secondaryOnline, controller: 2, id: 1)[10], 0x0002_0009)
    XCTAssertEqual(
      NVMeAdmin.virtualization(.secondaryOffline, controller: 2, id: 1)[10], 0x0002_0007)
    let identify = NVMeAdmin.identify(cns: 0x15, controller: 1, id: 3, page: 0x1_2345_6000)
    XCTAssertEqual(identify[0], 0x0003_0006)
    XCTAssertEqual(identify[6], 0x2345_6000)
    XCTAssertEqual(identify[7], 1)
    XCTAssertEqual(identify[10], 0x0001_0015)
  }

  func testCompletionDecoding() {
    let ok = NVMeCompletion(dwords: (0, 0, 0x0000_0003, 0x0001_0007))
    XCTAssertEqual(ok.id, 7)
    XCTAssertTrue(ok.phase)
    XCTAssertTrue(ok.succeeded)
    XCTAssertEqual(ok.submissionHead, 3)
    // SCT 1, SC 0x20 (Invalid Secondary Controller State ... as QEMU answers) with DNR.
    let failed = NVMeCompletion(dwords: (0, 0, 0, 0x0007 | UInt32(0x4000 | 0x120) << 17))
    XCTAssertFalse(failed.succeeded)
    XCTAssertFalse(failed.phase)
    XCTAssertEqual(failed.status & 0x7FF, 0x120)
  }

  func testPrimaryCapabilitiesShareAndTheOnlineMinimum() throws {
    // QEMU 7.2: sriov_vq_flexible=8, sriov_vi_flexible=4, sriov_max_vfs=2.
    var bytes = [UInt8](repeating: 0, count: 4096)
    bytes[32] = 8  // VQFRT
    bytes[44] = 4  // VQFRSM
    bytes[64] = 4  // VIFRT
    bytes[76] = 2  // VIFRSM
    let primary = try XCTUnwrap(NVMePrimaryControllerCapabilities(bytes))
    XCTAssertEqual(primary.share(among: 2)?.queues, 4)
    XCTAssertEqual(primary.share(among: 2)?.interrupts, 2)
    XCTAssertEqual(primary.share(among: 1)?.queues, 4)  // capped by VQFRSM
    XCTAssertNil(primary.share(among: 5))  // 1 VQ each: no I/O queue besides the admin one
    XCTAssertNil(primary.share(among: 0))
    XCTAssertNil(NVMePrimaryControllerCapabilities([UInt8](repeating: 0, count: 79)))
  }

  func testSecondaryControllerListEntries() {
    var bytes = [UInt8](repeating: 0, count: 4096)
    bytes[0] = 2
    // Entry 0: SCID 1, PCID 0, offline, VFN 1, NVQ 0, NVI 0; entry 1: SCID 2, online, VFN 2.
    bytes[32] = 1
    bytes[32 + 8] = 1
    bytes[64] = 2
    bytes[64 + 4] = 1
    bytes[64 + 8] = 2
    bytes[64 + 10] = 4
    bytes[64 + 12] = 2
    let list = NVMeSecondaryController.list(bytes)
    XCTAssertEqual(list.count, 2)
    XCTAssertEqual(list[0].id, 1)
    XCTAssertFalse(list[0].online)
    XCTAssertEqual(list[0].virtualFunction, 1)
    XCTAssertEqual(list[1].id, 2)
    XCTAssertTrue(list[1].online)
    XCTAssertEqual(list[1].queues, 4)
    XCTAssertEqual(list[1].interrupts, 2)
    // A count beyond the bytes given is cut to them; an empty list has none.
    XCTAssertEqual(NVMeSecondaryController.list(Array(bytes[0..<70])).count, 1)
    XCTAssertEqual(NVMeSecondaryController.list([]).count, 0)
  }

  func testDoorbellsAndReadyTimeout() {
    XCTAssertEqual(NVMeRegister.doorbell(queue: 0, completion: false, capabilities: 0), 0x1000)
    XCTAssertEqual(NVMeRegister.doorbell(queue: 0, completion: true, capabilities: 0), 0x1004)
    // DSTRD 2: 16-byte stride.
    XCTAssertEqual(
      NVMeRegister.doorbell(queue: 1, completion: true, capabilities: 2 << 32), 0x1000 + 3 * 16)
    XCTAssertEqual(NVMeRegister.readyTimeoutMilliseconds(capabilities: 0x0F00_0000), 7500)
    XCTAssertEqual(NVMeRegister.readyTimeoutMilliseconds(capabilities: 0), 500)
  }
}
