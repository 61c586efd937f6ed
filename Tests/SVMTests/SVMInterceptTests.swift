import SVM
import XCTest

/// The intercept vectors against APM Vol 2 Table B-1 and the list in their doc comment.
final class SVMInterceptTests: XCTestCase {
  private func bits(_ value: UInt32) -> Set<Int> { Set((0..<32).filter { value & (1 << $0) != 0 }) }

  func testBitPositionsMatchTheAPM() {
    XCTAssertEqual(SVMIntercept.intr, 1 << 0)
    XCTAssertEqual(SVMIntercept.smi, 1 << 2)
    XCTAssertEqual(SVMIntercept.rdtsc, 1 << 14)
    XCTAssertEqual(SVMIntercept.cpuid, 1 << 18)
    XCTAssertEqual(SVMIntercept.pause, 1 << 23)
    XCTAssertEqual(SVMIntercept.hlt, 1 << 24)
    XCTAssertEqual(SVMIntercept.invlpga, 1 << 26)
    XCTAssertEqual(SVMIntercept.ioioProtection, 1 << 27)
    XCTAssertEqual(SVMIntercept.msrProtection, 1 << 28)
    XCTAssertEqual(SVMIntercept.shutdown, 1 << 31)
    XCTAssertEqual(SVMIntercept.vmrun, 1 << 0)
    XCTAssertEqual(SVMIntercept.vmmcall, 1 << 1)
    XCTAssertEqual(SVMIntercept.wbinvd, 1 << 9)
    XCTAssertEqual(SVMIntercept.xsetbv, 1 << 13)
  }

  func testMiscVectorOneIsExactlyTheDocumentedSet() {
    // INTR, NMI, SMI, INIT, RDPMC, CPUID, INVD, HLT, INVLPGA, IOIO, MSR, task switch,
    // shutdown.
    XCTAssertEqual(
      bits(SVMIntercept.peregrineMisc1), [0, 1, 2, 3, 15, 18, 22, 24, 26, 27, 28, 29, 31])
  }

  func testMiscVectorTwoIsExactlyTheDocumentedSet() {
    // VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, WBINVD, MONITOR, MWAIT, XSETBV.
    // Not RDTSCP (7): it runs, reading the vCPU's TSC_AUX.
    XCTAssertEqual(bits(SVMIntercept.peregrineMisc2), [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 13])
  }

  func testControlRegisterVectorInterceptsWritesOfCR0AndCR4Only() {
    // Offset 0x00: reads in bits 15:0, writes in bits 31:16 (APM Table B-1). CR3 reads
    // and writes, and every CR read, stay the guest's.
    XCTAssertEqual(bits(SVMIntercept.peregrineCR), [16, 20])
  }

  func testVMRUNIsIntercepted() {
    // VMRUN fails its consistency checks unless its intercept is set (APM §15.5.1).
    XCTAssertNotEqual(SVMIntercept.peregrineMisc2 & SVMIntercept.vmrun, 0)
  }

  func testRDTSCAndPAUSEAreNotIntercepted() {
    XCTAssertEqual(SVMIntercept.peregrineMisc1 & SVMIntercept.rdtsc, 0)
    XCTAssertEqual(SVMIntercept.peregrineMisc1 & SVMIntercept.pause, 0)
    XCTAssertEqual(
      SVMIntercept.peregrineMisc1 & SVMIntercept.vintr, 0, "no interrupt-window exits by default")
  }
}
