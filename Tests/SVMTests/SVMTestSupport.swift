import HypervisorCore
import SVM
import XCTest

/// A zeroed 4 KiB host buffer standing in for a VMCB page.
final class VMCBPage {
  let base: UnsafeMutableRawPointer
  let vmcb: VMCB

  init() {
    base = .allocate(byteCount: VMCBOffset.size, alignment: 4096)
    vmcb = VMCB(base: base)
    vmcb.clear()
  }

  func release() { base.deallocate() }

  /// Writes the exit fields as the processor would on #VMEXIT.
  func setExit(
    code: UInt64, info1: UInt64 = 0, info2: UInt64 = 0, rip: UInt64 = 0x1000, nextRIP: UInt64 = 0
  ) {
    vmcb.set(VMCBOffset.exitCode, code)
    vmcb.set(VMCBOffset.exitInfo1, info1)
    vmcb.set(VMCBOffset.exitInfo2, info2)
    vmcb.set(VMCBOffset.rip, rip)
    vmcb.set(VMCBOffset.nextRIP, nextRIP)
  }
}

/// A HostProcessor with fixed answers: CPUID echoes its question, the TSC is a constant.
enum FakeHost: HostProcessor {
  static let tsc: UInt64 = 1_000_000

  static func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    CPUIDLeaf(eax: leaf, ebx: subleaf, ecx: 0xC0FF_EE00, edx: 0x5EED)
  }

  static func timeStampCounter() -> UInt64 { tsc }
}

/// Test cases that need VMCB pages; they are freed in tearDown.
class VMCBTestCase: XCTestCase {
  private var pages: [VMCBPage] = []

  func makePage() -> VMCBPage {
    let page = VMCBPage()
    pages.append(page)
    return page
  }

  override func tearDown() {
    for page in pages { page.release() }
    pages.removeAll()
    super.tearDown()
  }
}

/// Collects console output; the SVM tests only need somewhere to send it.
final class DiscardingConsole: ConsoleSink {
  private(set) var bytes: [UInt8] = []
  func write(_ byte: UInt8, from vmName: [UInt8]) { bytes.append(byte) }
}
