import XCTest

@testable import PCI

final class NVMeAdminGuardTests: XCTestCase {
  /// Linux's probe and teardown commands pass; everything that manages namespaces,
  /// controllers, firmware, media or security does not, nor any vendor opcode.
  func testOpcodePolicy() {
    for opcode: UInt8 in [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0A, 0x0C, 0x18, 0x7C] {
      XCTAssertTrue(NVMeAdminGuard.allows(opcode: opcode), "opcode \(opcode)")
    }
    for opcode: UInt8 in [
      0x03, 0x07, 0x0D, 0x10, 0x11, 0x14, 0x15, 0x19, 0x1A, 0x1C, 0x1D, 0x1E, 0x20, 0x24, 0x7F,
      0x80, 0x81, 0x82, 0x84, 0x86, 0xC0, 0xC1, 0xFF,
    ] {
      XCTAssertFalse(NVMeAdminGuard.allows(opcode: opcode), "opcode \(opcode)")
    }
    // Exactly the listed twelve out of all 256.
    XCTAssertEqual((0...255).filter { NVMeAdminGuard.allows(opcode: UInt8($0)) }.count, 12)
    // The replacement is itself refused (the device must answer it with an error).
    XCTAssertFalse(NVMeAdminGuard.allows(opcode: NVMeAdminGuard.refusedOpcode))
    // The node's own commands, as the kernel encodes them, would be refused from a guest.
    let attach = NVMeNamespaceAttachment.attach(namespace: 2, id: 1, page: 0x1000)
    XCTAssertFalse(NVMeAdminGuard.allows(opcode: UInt8(truncatingIfNeeded: attach[0])))
    let virtualization = NVMeAdmin.virtualization(.secondaryOffline, controller: 2, id: 1)
    XCTAssertFalse(NVMeAdminGuard.allows(opcode: UInt8(truncatingIfNeeded: virtualization[0])))
    let format = NVMeNamespaceErase.format(namespace: 2, lbaFormat: 0, id: 1)
    XCTAssertFalse(NVMeAdminGuard.allows(opcode: UInt8(truncatingIfNeeded: format[0])))
  }

  func testAllowedSlotIsCopiedWhole() {
    let identify = NVMeAdmin.identify(cns: 1, namespace: 7, id: 0x1234, page: 0x2_0000_3000)
    let made = NVMeAdminGuard.shadowSlot(identify)
    XCTAssertNil(made.refused)
    XCTAssertEqual(made.dwords, identify)
    // Fused and PSDT bits of an allowed command stay the guest's (IOMMU-confined anyway).
    var flagged = identify
    flagged[0] |= 0xC300
    XCTAssertEqual(NVMeAdminGuard.shadowSlot(flagged).dwords, flagged)
    // A short guest slot is padded with zeroes, a long one cut to 16 dwords.
    XCTAssertEqual(
      NVMeAdminGuard.shadowSlot([0x0001_0006]).dwords,
      [0x0001_0006] + Array(repeating: 0, count: 15))
    XCTAssertEqual(NVMeAdminGuard.shadowSlot(identify + [9, 9]).dwords, identify)
  }

  func testRefusedSlotKeepsOnlyTheIdentifier() {
    // vma's theft: detach namespace 2 from controller 2, as /bin/nvme-attach sends it.
    var theft = NVMeNamespaceAttachment.detach(namespace: 2, id: 0xBEEF, page: 0x7000)
    theft[0] |= 0x0100  // a fused bit too
    let made = NVMeAdminGuard.shadowSlot(theft)
    XCTAssertEqual(made.refused, 0x15)
    XCTAssertEqual(made.dwords[0], 0xBEEF_0003)
    XCTAssertTrue(made.dwords[1...].allSatisfy { $0 == 0 }, "no NSID, PRP or CDW10 left")
    XCTAssertEqual(NVMeAdminGuard.shadowSlot([0x0000_00FF, 1, 2, 3]).refused, 0xFF)
    XCTAssertEqual(NVMeAdminGuard.shadowSlot([0x0000_001C]).refused, 0x1C)
    // An all-zero slot is Delete I/O SQ (opcode 00h): allowed, and harmless (QID 0 is
    // refused by the controller).
    XCTAssertNil(NVMeAdminGuard.shadowSlot([UInt32](repeating: 0, count: 16)).refused)
  }

  func testRingGeometryAndRefusals() throws {
    XCTAssertNil(NVMeAdminShadowRing(guestBase: 0x1000, entries: 1))
    XCTAssertNil(NVMeAdminShadowRing(guestBase: 0x1000, entries: 4097))
    XCTAssertNil(NVMeAdminShadowRing(guestBase: 0x1040, entries: 32))
    XCTAssertNil(NVMeAdminShadowRing(guestBase: UInt64.max & ~0xFFF, entries: 4096))
    // Linux's admin queue: 32 entries, 2 KiB, one page.
    var ring = try XCTUnwrap(NVMeAdminShadowRing(guestBase: 0x10_0000, entries: 32))
    XCTAssertEqual(ring.guestRange, 0x10_0000..<0x10_0800)
    XCTAssertEqual(ring.guestPages, [0x10_0000])
    XCTAssertEqual(
      try XCTUnwrap(NVMeAdminShadowRing(guestBase: 0, entries: 4096)).guestPages.count, 64)
    XCTAssertEqual(
      try XCTUnwrap(NVMeAdminShadowRing(guestBase: 0x3000, entries: 65)).guestPages,
      [0x3000, 0x4000])
    // An 8-byte store inside slot 3; a 64-byte store straddling 3 and 4; the first byte
    // and the last; stores that miss (before, after, on the rest of the page, empty).
    XCTAssertEqual(ring.slots(touching: 0x10_00C8, length: 8), 3..<4)
    XCTAssertEqual(ring.slots(touching: 0x10_00E0, length: 64), 3..<5)
    XCTAssertEqual(ring.slots(touching: 0x10_0000, length: 1), 0..<1)
    XCTAssertEqual(ring.slots(touching: 0x10_07FF, length: 1), 31..<32)
    XCTAssertEqual(ring.slots(touching: 0x0F_FFF8, length: 16), 0..<1)
    XCTAssertEqual(ring.slots(touching: 0x10_07F8, length: 16), 31..<32)
    XCTAssertEqual(ring.slots(touching: 0x0F_FFF8, length: 8), 0..<0)
    XCTAssertEqual(ring.slots(touching: 0x10_0800, length: 8), 0..<0)
    XCTAssertEqual(ring.slots(touching: 0x10_0100, length: 0), 0..<0)
    XCTAssertEqual(ring.slots(touching: UInt64.max - 3, length: 8), 0..<0)
    // A rep stos over the whole ring touches every slot.
    XCTAssertEqual(ring.slots(touching: 0x10_0000, length: 0x800), 0..<32)

    let identify = NVMeAdmin.identify(cns: 1, id: 1, page: 0x5000)
    XCTAssertEqual(ring.copy(slot: 0, guest: identify), identify)
    XCTAssertEqual(ring.refusals, 0)
    XCTAssertNil(ring.firstRefused)
    let attach = NVMeNamespaceAttachment.attach(namespace: 2, id: 2, page: 0x5000)
    XCTAssertEqual(ring.copy(slot: 1, guest: attach)[0], 0x0002_0003)
    let format = NVMeNamespaceErase.format(namespace: 1, lbaFormat: 0, id: 3)
    XCTAssertEqual(ring.copy(slot: 2, guest: format)[0], 0x0003_0003)
    XCTAssertEqual(ring.refusals, 2)
    XCTAssertEqual(ring.firstRefused, 0x15, "the first refused opcode is kept for the log line")
    XCTAssertEqual(ring.copies, 3)
  }

  func testFormatEncodingAndCurrentFormat() throws {
    // §5.23: opcode 80h, NSID in dword 1, LBAF 3:0, SES 11:9 = 1 (user data erase).
    let format = NVMeNamespaceErase.format(namespace: 2, lbaFormat: 0x13, id: 7)
    XCTAssertEqual(format[0], 0x0007_0080)
    XCTAssertEqual(format[1], 2)
    XCTAssertEqual(format[10], 0x203)
    XCTAssertEqual(format[6], 0)
    var identify = [UInt8](repeating: 0, count: 4096)
    identify[0] = 0x00
    identify[1] = 0xC0  // NSZE 0xC000: 49152 blocks (24 MiB of 512 bytes)
    identify[26] = 0x12  // FLBAS: metadata bit 4 set, format 2
    let current = try XCTUnwrap(NVMeNamespaceErase.currentFormat(identify))
    XCTAssertEqual(current.lbaFormat, 2)
    XCTAssertEqual(current.blocks, 0xC000)
    XCTAssertNil(NVMeNamespaceErase.currentFormat([UInt8](repeating: 0, count: 26)))
  }
}
