import XCTest

@testable import SVM

/// The VMCB offsets against AMD APM Vol 2 Appendix B (Tables B-1 and B-2).
final class VMCBLayoutTests: XCTestCase {
  func testControlAreaOffsetsMatchTheAPM() {
    XCTAssertEqual(VMCBOffset.interceptCR, 0x000)
    XCTAssertEqual(VMCBOffset.interceptExceptions, 0x008)
    XCTAssertEqual(VMCBOffset.interceptMisc1, 0x00C)
    XCTAssertEqual(VMCBOffset.interceptMisc2, 0x010)
    XCTAssertEqual(VMCBOffset.iopmBasePA, 0x040)
    XCTAssertEqual(VMCBOffset.msrpmBasePA, 0x048)
    XCTAssertEqual(VMCBOffset.tscOffset, 0x050)
    XCTAssertEqual(VMCBOffset.guestASID, 0x058)
    XCTAssertEqual(VMCBOffset.tlbControl, 0x05C)
    XCTAssertEqual(VMCBOffset.virtualInterrupt, 0x060)
    XCTAssertEqual(VMCBOffset.interruptShadow, 0x068)
    XCTAssertEqual(VMCBOffset.exitCode, 0x070)
    XCTAssertEqual(VMCBOffset.exitInfo1, 0x078)
    XCTAssertEqual(VMCBOffset.exitInfo2, 0x080)
    XCTAssertEqual(VMCBOffset.exitInterruptInfo, 0x088)
    XCTAssertEqual(VMCBOffset.nestedPagingEnable, 0x090)
    XCTAssertEqual(VMCBOffset.eventInjection, 0x0A8)
    XCTAssertEqual(VMCBOffset.nestedCR3, 0x0B0)
    XCTAssertEqual(VMCBOffset.vmcbClean, 0x0C0)
    XCTAssertEqual(VMCBOffset.nextRIP, 0x0C8)
  }

  func testStateSaveAreaOffsetsMatchTheAPM() {
    XCTAssertEqual(VMCBOffset.es, 0x400)
    XCTAssertEqual(VMCBOffset.cs, 0x410)
    XCTAssertEqual(VMCBOffset.ss, 0x420)
    XCTAssertEqual(VMCBOffset.ds, 0x430)
    XCTAssertEqual(VMCBOffset.gdtr, 0x460)
    XCTAssertEqual(VMCBOffset.idtr, 0x480)
    XCTAssertEqual(VMCBOffset.tr, 0x490)
    XCTAssertEqual(VMCBOffset.cpl, 0x4CB)
    XCTAssertEqual(VMCBOffset.efer, 0x4D0)
    XCTAssertEqual(VMCBOffset.cr4, 0x548)
    XCTAssertEqual(VMCBOffset.cr3, 0x550)
    XCTAssertEqual(VMCBOffset.cr0, 0x558)
    XCTAssertEqual(VMCBOffset.dr7, 0x560)
    XCTAssertEqual(VMCBOffset.rflags, 0x570)
    XCTAssertEqual(VMCBOffset.rip, 0x578)
    XCTAssertEqual(VMCBOffset.rsp, 0x5D8)
    XCTAssertEqual(VMCBOffset.rax, 0x5F8)
    XCTAssertEqual(VMCBOffset.kernelGSBase, 0x620)
    XCTAssertEqual(VMCBOffset.cr2, 0x640)
    XCTAssertEqual(VMCBOffset.guestPAT, 0x668)
  }
}
