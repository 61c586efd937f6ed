import XCTest

@testable import PCI

/// A VF's register page as plain memory (CC, AQA, ACQ... read back what was written), with
/// what the guard did to it, and the page as the guest should see it: every byte it wrote,
/// but NSSR (dropped, so it reads the device's 0).
private struct FakeRegisterPage {
  static let iova: UInt64 = 0x7F_0004_0000
  var device = [UInt8](repeating: 0, count: 0x1008)
  var guest = [UInt8](repeating: 0, count: 0x1008)
  var registers = NVMeRegisterPageGuard(shadowIOVA: iova)
  var writes: [(offset: UInt64, size: UInt8, value: UInt64)] = []
  var enables: [(guestASQ: UInt64, queueAttributes: UInt32)] = []
  var disables = 0
  var dropped: [UInt32] = []
  /// Device reads the guard made, and the accesses so far (for failure messages).
  var deviceReads = 0
  var trace: [String] = []

  init(asq: UInt64 = 0, aqa: UInt32 = 0x001F_001F, cc: UInt32 = 0x0046_0000) {
    // The registers as a driver leaves them before it sets CC.EN: whole dwords.
    apply(write: 0x24, 4, UInt64(aqa))
    apply(write: 0x28, 4, asq & 0xFFFF_FFFF)
    apply(write: 0x2C, 4, asq >> 32)
    apply(write: 0x14, 4, UInt64(cc))
    writes = []
    trace = []
    deviceReads = 0
  }

  func deviceValue(_ offset: UInt64, _ size: UInt64) -> UInt64 {
    (0..<size).reduce(0) { $0 | UInt64(device[Int(offset + $1)]) << ($1 * 8) }
  }

  func guestValue(_ offset: UInt64, _ size: UInt64) -> UInt64 {
    (0..<size).reduce(0) { $0 | UInt64(guest[Int(offset + $1)]) << ($1 * 8) }
  }

  var guestASQ: UInt64 { guestValue(0x28, 8) }
  var guestEN: Bool { guest[0x14] & 1 != 0 }

  mutating func read(_ offset: UInt64, _ size: UInt8) -> UInt64 {
    let page = device
    var reads = 0
    let value = registers.read(offset: offset, size: size) { at, width in
      reads += 1
      return (0..<UInt64(width)).reduce(0) { $0 | UInt64(page[Int(at + $1)]) << ($1 * 8) }
    }
    deviceReads += reads
    return value
  }

  /// One guest write through the guard, its actions performed on the device, every
  /// invariant checked.
  @discardableResult
  mutating func apply(
    write offset: UInt64, _ size: UInt8, _ value: UInt64, file: StaticString = #filePath,
    line: UInt = #line
  ) -> [NVMeRegisterPageGuard.Action] {
    trace.append("write 0x\(String(offset, radix: 16)) size \(size) 0x\(String(value, radix: 16))")
    let page = device
    var reads = 0
    let actions = registers.write(offset: offset, size: size, value: value) { at, width in
      reads += 1
      return (0..<UInt64(width)).reduce(0) { $0 | UInt64(page[Int(at + $1)]) << ($1 * 8) }
    }
    deviceReads += reads
    for index in 0..<Int(size) where !(0x20..<0x24).contains(offset + UInt64(index)) {
      guest[Int(offset) + index] = UInt8(truncatingIfNeeded: value >> (UInt64(index) * 8))
    }
    var enabledHere = false
    for action in actions {
      switch action {
      case .device(let at, let width, let written):
        let range = at..<at + UInt64(width)
        XCTAssertTrue(
          [1, 2, 4].contains(width), "device write of \(width) bytes", file: file, line: line)
        // Unaligned only as the guest wrote it (a qword: its halves), away from the guard's dwords (below).
        XCTAssertTrue(
          at % UInt64(width) == 0 || (at == offset && width == size)
            || (size == 8 && width == 4 && (at == offset || at == offset + 4)),
          "unaligned device write at \(at)", file: file, line: line)
        XCTAssertFalse(
          range.overlaps(0x20..<0x24), "NSSR reached the device: \(trace)", file: file, line: line)
        if range.overlaps(0x28..<0x30) {
          // Only the shadow's address, as whole dwords, right after an enable.
          XCTAssertTrue(
            enabledHere, "ASQ written without an enable: \(trace)", file: file, line: line)
          XCTAssertEqual(width, 4, file: file, line: line)
          XCTAssertEqual(
            written, at == 0x28 ? Self.iova & 0xFFFF_FFFF : Self.iova >> 32,
            "a guest value reached the device's ASQ: \(trace)", file: file, line: line)
        }
        for guarded: UInt64 in [0x14, 0x24] where range.overlaps(guarded..<guarded + 4) {
          XCTAssertEqual(
            range, guarded..<guarded + 4, "part of a dword at \(guarded)", file: file, line: line)
        }
        if at == 0x14, written & 1 != 0 {
          XCTAssertTrue(registers.enabled, file: file, line: line)
          XCTAssertEqual(
            deviceValue(0x28, 8), Self.iova, "CC.EN with ASQ \(trace)", file: file, line: line)
        }
        writes.append((at, width, written))
        for index in 0..<UInt64(width) {
          device[Int(at + index)] = UInt8(truncatingIfNeeded: written >> (index * 8))
        }
      case .enable(let asq, let attributes):
        XCTAssertFalse(enabledHere, file: file, line: line)
        enabledHere = true
        enables.append((asq, attributes))
      case .disable:
        disables += 1
      case .dropped(let written):
        dropped.append(written)
      }
    }
    // The guest's view and the device hold what the guest wrote (CC, AQA, the rest), but
    // NSSR (nothing reaches the device) and ASQ (the guard's).
    XCTAssertEqual(registers.guestASQ, guestASQ, "\(trace)", file: file, line: line)
    XCTAssertEqual(registers.enabled, guestEN, "\(trace)", file: file, line: line)
    let differing = (0..<0x40).filter { !(0x28..<0x30).contains($0) && device[$0] != guest[$0] }
    XCTAssertEqual(differing, [], "device bytes differ: \(trace)", file: file, line: line)
    return actions
  }
}

final class NVMeRegisterPageGuardTests: XCTestCase {
  private let nvme = NVMeRegisterPageGuard.subsystemResetValue

  func testAlignedDwordsAsLinuxWritesThem() {
    var page = FakeRegisterPage(asq: 0x1234_5000)
    XCTAssertTrue(page.writes.isEmpty)
    XCTAssertEqual(page.device[0x28..<0x30].reduce(0, +), 0, "the guest's ASQ stays here")
    XCTAssertEqual(page.read(0x28, 4), 0x1234_5000)
    XCTAssertEqual(page.read(0x2C, 4), 0)
    // CC.EN 0 → 1: enable first, then the device's ASQ, then CC.
    let actions = page.apply(write: 0x14, 4, 0x0046_0001)
    XCTAssertEqual(
      actions,
      [
        .enable(guestASQ: 0x1234_5000, queueAttributes: 0x001F_001F),
        .device(offset: 0x28, size: 4, value: 0x0004_0000),
        .device(offset: 0x2C, size: 4, value: 0x7F),
        .device(offset: 0x14, size: 4, value: 0x0046_0001),
      ])
    XCTAssertEqual(page.read(0x28, 8), 0x1234_5000, "the guest reads its own ASQ")
    // Shutdown (SHN 01b) keeps EN: no edge. EN 1 → 0: CC first, then disable.
    XCTAssertEqual(
      page.apply(write: 0x14, 4, 0x0046_4001), [.device(offset: 0x14, size: 4, value: 0x0046_4001)])
    XCTAssertEqual(
      page.apply(write: 0x14, 4, 0x0046_0000),
      [.device(offset: 0x14, size: 4, value: 0x0046_0000), .disable])
    // Another register: as it is.
    XCTAssertEqual(page.apply(write: 0x0C, 4, 0xFF), [.device(offset: 0x0C, size: 4, value: 0xFF)])
    XCTAssertEqual(page.apply(write: 0x1000, 4, 3), [.device(offset: 0x1000, size: 4, value: 3)])
    XCTAssertEqual(page.read(0x1C, 4), 0)
    XCTAssertEqual(page.enables.count, 1)
    XCTAssertEqual(page.disables, 1)
  }

  func testQwordsAreSplitIntoDwords() {
    var page = FakeRegisterPage()
    // ACQ (lo_hi_writeq), untouched by the guard: two dword writes, low first.
    XCTAssertEqual(
      page.apply(write: 0x30, 8, 0x0000_0001_2345_6000),
      [
        .device(offset: 0x30, size: 4, value: 0x2345_6000),
        .device(offset: 0x34, size: 4, value: 1),
      ])
    // ASQ whole: kept.
    XCTAssertEqual(page.apply(write: 0x28, 8, 0x0000_0002_0000_1000), [])
    XCTAssertEqual(page.registers.guestASQ, 0x2_0000_1000)
    // AQA and ASQ's low half.
    XCTAssertEqual(
      page.apply(write: 0x24, 8, 0x0000_3000_0007_0007),
      [.device(offset: 0x24, size: 4, value: 0x0007_0007)])
    XCTAssertEqual(page.registers.guestASQ, 0x2_0000_3000)
    // ASQ's high half and ACQ's low half.
    XCTAssertEqual(
      page.apply(write: 0x2C, 8, 0x0000_5000_0000_0000),
      [.device(offset: 0x30, size: 4, value: 0x5000)])
    XCTAssertEqual(page.registers.guestASQ, 0x3000)
    // CSTS and NSSR; NSSR and AQA.
    XCTAssertEqual(
      page.apply(write: 0x1C, 8, UInt64(nvme) << 32 | 0x10),
      [.device(offset: 0x1C, size: 4, value: 0x10), .dropped(value: nvme)])
    XCTAssertEqual(
      page.apply(write: 0x20, 8, 0x001F_001F << 32 | UInt64(nvme)),
      [.dropped(value: nvme), .device(offset: 0x24, size: 4, value: 0x001F_001F)])
    // INTMC and CC with EN; CC with EN and CSTS.
    XCTAssertEqual(page.apply(write: 0x10, 8, 0x0046_0001 << 32 | 1).count, 5)
    XCTAssertEqual(page.enables.count, 1)
    XCTAssertEqual(page.enables.last?.guestASQ, 0x3000)
    XCTAssertEqual(page.enables.last?.queueAttributes, 0x001F_001F)
    page.apply(write: 0x14, 8, 0x0046_0000)
    XCTAssertEqual(page.disables, 1)
    page.apply(write: 0x14, 8, 0x0046_0001)
    XCTAssertEqual(page.enables.count, 2)
  }

  /// Whatever the width and offset, "NVMe" never reaches NSSR.
  func testSubsystemResetNeverReachesTheDevice() {
    var page = FakeRegisterPage()
    page.apply(write: 0x20, 4, UInt64(nvme))
    // "NVMe" spelled out byte by byte, in both orders, and as two words.
    for (index, byte) in [0x65, 0x4D, 0x56, 0x4E].enumerated() {
      page.apply(write: 0x20 + UInt64(index), 1, UInt64(byte))
    }
    for (index, byte) in [0x65, 0x4D, 0x56, 0x4E].enumerated().reversed() {
      page.apply(write: 0x20 + UInt64(index), 1, UInt64(byte))
    }
    page.apply(write: 0x20, 2, 0x4D65)
    page.apply(write: 0x22, 2, 0x4E56)
    // Unaligned and crossing: from CSTS, into AQA, from CC.
    page.apply(write: 0x1C, 8, UInt64(nvme) << 32)
    page.apply(write: 0x1E, 4, UInt64(nvme) << 16 & 0xFFFF_FFFF)
    page.apply(write: 0x22, 4, UInt64(nvme) >> 16 | 0x001F_0000)
    page.apply(write: 0x1D, 8, UInt64(nvme) << 24)
    page.apply(write: 0x19, 8, UInt64(nvme) << 56 | UInt64(nvme) << 24)
    page.apply(write: 0x23, 1, 0x4E)
    XCTAssertFalse(
      page.writes.contains { ($0.offset..<$0.offset + UInt64($0.size)).overlaps(0x20..<0x24) })
    XCTAssertEqual(page.dropped.count, 17)
    XCTAssertTrue(page.dropped.contains(nvme))
    XCTAssertEqual(page.read(0x20, 4), 0, "the guest reads the device's NSSR (0)")
  }

  /// Only a real EN edge enables or disables, however CC is written.
  func testEnableOnlyOnRealEdges() {
    var page = FakeRegisterPage(asq: 0x8000)
    // A byte write of EN alone: merged with CC's other fields.
    XCTAssertEqual(
      page.apply(write: 0x14, 1, 0x01).last, .device(offset: 0x14, size: 4, value: 0x0046_0001))
    XCTAssertEqual(page.enables.count, 1)
    page.apply(write: 0x14, 1, 0x01)
    page.apply(write: 0x15, 1, 0x40)  // SHN: EN kept from the device
    page.apply(write: 0x16, 2, 0x0046)
    page.apply(write: 0x14, 4, 0x0046_4001)
    XCTAssertEqual(page.enables.count, 1)
    XCTAssertEqual(page.disables, 0)
    XCTAssertEqual(page.apply(write: 0x14, 2, 0x4000).last, .disable)
    page.apply(write: 0x14, 4, 0x0046_0000)
    page.apply(write: 0x17, 1, 0)
    XCTAssertEqual(page.disables, 1)
    // A word at 0x13 crossing into CC (was forwarded as it was: CC.EN reached the device
    // with no enable and the device's ASQ unset, i.e. fetching from I/O address 0).
    let crossing = page.apply(write: 0x13, 2, 0x0100)
    XCTAssertEqual(crossing.first, .device(offset: 0x13, size: 1, value: 0))
    XCTAssertEqual(page.enables.count, 2)
    XCTAssertEqual(page.deviceValue(0x14, 4), 0x0046_0001)
    page.apply(write: 0x11, 4, 0)
    XCTAssertEqual(page.disables, 2)
    // An unaligned qword covering CC (was two unaligned dwords, the first into CC).
    page.apply(write: 0x12, 8, 0x0001_0000)
    page.apply(write: 0x0F, 8, 0)
    page.apply(write: 0x13, 4, 0x0100)
    page.apply(write: 0x17, 2, 0)
    XCTAssertEqual(page.enables.count, 4)
    XCTAssertEqual(page.disables, 3)
    // The device's CC reading EN 0 under an enabled guard (a reset the guard did not see):
    // EN written again is an edge for the device, so the shadow's ASQ is written again.
    page.device[0x14] = 0
    page.guest[0x14] = 0
    XCTAssertEqual(
      page.apply(write: 0x14, 4, 1).first, .enable(guestASQ: 0x8000, queueAttributes: 0x001F_001F))
    XCTAssertEqual(page.enables.count, 5)
  }

  func testGuestASQBytesAndStraddlingReads() {
    var page = FakeRegisterPage(asq: 0xAAAA_BBBB_CCCC_D000)
    page.apply(write: 0x14, 4, 0x0046_0001)
    page.apply(write: 0x30, 8, 0x1_2345_6000)
    // Words into the high half, bytes anywhere: the guest's ASQ only.
    XCTAssertEqual(page.apply(write: 0x2E, 2, 0x1122), [])
    XCTAssertEqual(page.apply(write: 0x2C, 2, 0x3344), [])
    XCTAssertEqual(page.apply(write: 0x2B, 1, 0x55), [])
    XCTAssertEqual(page.registers.guestASQ, 0x1122_3344_55CC_D000)
    XCTAssertEqual(page.deviceValue(0x28, 8), FakeRegisterPage.iova)
    // Reads inside ASQ, straddling it from AQA and into ACQ, and unaligned.
    XCTAssertEqual(page.read(0x2A, 2), 0x55CC)
    XCTAssertEqual(page.read(0x2F, 1), 0x11)
    XCTAssertEqual(page.read(0x24, 8), 0x55CC_D000_001F_001F, "was AQA and the shadow's address")
    XCTAssertEqual(page.read(0x2C, 8), 0x2345_6000_1122_3344)
    XCTAssertEqual(page.read(0x26, 4), 0xD000_001F)
    XCTAssertEqual(page.read(0x2D, 8), 0x01_2345_6000_1122_33)
    XCTAssertEqual(page.read(0x2E, 4), 0x6000_1122)
    // Unaligned writes crossing into and out of ASQ (a qword at 0x26 was two unaligned
    // dwords to the device, its ASQ bytes 0x28-0x2D the guest's).
    page.apply(write: 0x26, 8, 0x8877_6655_4433_001F)
    XCTAssertEqual(page.registers.guestASQ, 0x1122_8877_6655_4433)
    page.apply(write: 0x2E, 4, 0x6000_ABCD)
    XCTAssertEqual(page.registers.guestASQ, 0xABCD_8877_6655_4433)
    XCTAssertEqual(page.deviceValue(0x30, 4), 0x2345_6000)
    page.apply(write: 0x2F, 2, 0x00EE)
    XCTAssertEqual(page.registers.guestASQ, 0xEECD_8877_6655_4433)
    XCTAssertEqual(page.deviceValue(0x28, 8), FakeRegisterPage.iova)
  }

  /// CSTS (0x1C) is not the guard's: a byte of it goes as it is (was merged into a dword
  /// with the device's CSTS, writing NSSRO, bit 4, a write-one-to-clear bit, back).
  func testStatusIsNotMerged() {
    var page = FakeRegisterPage()
    XCTAssertEqual(page.apply(write: 0x1D, 1, 0), [.device(offset: 0x1D, size: 1, value: 0)])
    XCTAssertEqual(
      page.apply(write: 0x1E, 4, 0x4E56_0000),
      [.device(offset: 0x1E, size: 2, value: 0), .dropped(value: 0x4E56)])
    XCTAssertEqual(page.deviceReads, 0, "reads of NSSR are not needed to drop it")
  }

  /// Every width at every offset from INTMC to ACQ, writes and reads, from a few states.
  func testEveryWidthAtEveryOffset() {
    for size: UInt8 in [1, 2, 4, 8] {
      for offset: UInt64 in 0x10...0x30 {
        for value: UInt64 in [0, UInt64.max, 0x0123_4567_89AB_CDEF, 0x0101_0101_0101_0101] {
          for enabledFirst in [false, true] {
            var page = FakeRegisterPage(asq: 0x5_0000_2000)
            if enabledFirst { page.apply(write: 0x14, 4, 0x0046_0001) }
            let enables = page.enables.count
            page.apply(write: offset, size, value)
            let touchesEN = (offset..<offset + UInt64(size)).contains(0x14)
            let newEN = touchesEN ? (value >> ((0x14 - offset) * 8)) & 1 != 0 : enabledFirst
            XCTAssertEqual(page.registers.enabled, newEN, "size \(size) at \(offset)")
            XCTAssertEqual(
              page.enables.count, enables + (newEN && !enabledFirst ? 1 : 0),
              "size \(size) at \(offset)")
            if newEN && !enabledFirst {
              XCTAssertEqual(
                page.enables.last?.guestASQ, page.guestASQ, "size \(size) at \(offset)")
            }
            for readSize: UInt8 in [1, 2, 4, 8] {
              for at: UInt64 in 0x10...0x30 {
                XCTAssertEqual(
                  page.read(at, readSize), page.guestValue(at, UInt64(readSize)),
                  "read \(readSize) at \(at) after write \(size) at \(offset)")
              }
            }
          }
        }
      }
    }
  }

  /// The invariants (checked by `apply` at every access: NSSR and the device's ASQ never get
  /// a guest byte, CC and AQA only whole dwords, EN set only with the shadow's ASQ, the
  /// guest's view as it wrote it) over seeded random sequences mixing all widths and
  /// offsets, with EN edges counted against the guest's bytes.
  func testRandomSequencesKeepTheInvariants() {
    var random = SplitMix64(seed: 0x5EED_0E14)
    let interesting: [UInt64] = [
      0x13, 0x14, 0x17, 0x1C, 0x1F, 0x20, 0x22, 0x23, 0x24, 0x27, 0x28, 0x2C, 0x2F,
    ]
    var totalEnables = 0
    for sequence in 0..<3000 {
      var page = FakeRegisterPage(asq: random.next() & 0xF_FFFF_F000)
      var edgesUp = 0
      var edgesDown = 0
      for _ in 0..<24 {
        let size = [1, 2, 4, 8][Int(random.next() % 4)] as UInt8
        let offset =
          random.next() % 3 == 0
          ? interesting[Int(random.next() % UInt64(interesting.count))] - random.next()
            % UInt64(size)
          : 0x0C + random.next() % 0x2C
        var value = random.next()
        switch random.next() % 4 {
        case 0: value = UInt64(nvme) << ((random.next() % 5) * 8)
        case 1: value &= 0x0101_0101_0101_0101
        default: break
        }
        if random.next() % 8 == 0 {
          let at = 0x10 + random.next() % 0x28
          let width = [1, 2, 4, 8][Int(random.next() % 4)] as UInt8
          XCTAssertEqual(
            page.read(at, width), page.guestValue(at, UInt64(width)), "seq \(sequence)")
        }
        let wasEN = page.guestEN
        page.apply(write: offset, size, value)
        if page.guestEN && !wasEN { edgesUp += 1 }
        if !page.guestEN && wasEN { edgesDown += 1 }
      }
      XCTAssertEqual(page.enables.count, edgesUp, "seq \(sequence): \(page.trace)")
      XCTAssertEqual(page.disables, edgesDown, "seq \(sequence): \(page.trace)")
      totalEnables += edgesUp
      if page.registers.enabled {
        XCTAssertEqual(page.deviceValue(0x28, 8), FakeRegisterPage.iova)
      }
    }
    XCTAssertGreaterThan(totalEnables, 2000, "the sequences exercise the enable path")
  }
}

/// A seeded generator (SplitMix64), so a failing sequence can be replayed.
private struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
