import HypervisorCore
import XCTest

/// The table the world switch answers CPUID from must give exactly what CPUIDHandler gives.
final class CPUIDAnswerTableTests: XCTestCase {
  /// A host whose answers differ per leaf, and per subleaf only where the leaf is indexed.
  private func host(_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf {
    let salt = CPUIDAnswerTable.isSubleafIndexed(leaf) ? subleaf &* 0x9E37_79B9 : 0
    return CPUIDLeaf(
      eax: leaf &* 0x0101_0101 ^ salt, ebx: ~leaf ^ salt, ecx: leaf << 7 ^ salt,
      edx: leaf ^ 0xA5A5_A5A5 ^ salt)
  }

  func testSlotsMapToTheThreeLeafRangesAsTheWorldSwitchIndexes() {
    XCTAssertEqual(CPUIDAnswerTable.leaf(atSlot: 0), 0)
    XCTAssertEqual(CPUIDAnswerTable.leaf(atSlot: 31), 0x1F)
    XCTAssertEqual(CPUIDAnswerTable.leaf(atSlot: 32), 0x4000_0000)
    XCTAssertEqual(CPUIDAnswerTable.leaf(atSlot: 64), 0x8000_0000)
    XCTAssertEqual(CPUIDAnswerTable.leaf(atSlot: 95), 0x8000_001F)
    for slot in 0..<CPUIDAnswerTable.slotCount {
      let leaf = CPUIDAnswerTable.leaf(atSlot: slot)
      // boot/svm_world_switch.asm: (leaf >> 30) * 32 + (leaf & 0x1F).
      XCTAssertEqual(Int(leaf >> 30) * 32 + Int(leaf & 0x1F), slot)
    }
  }

  /// For every ECX a guest may pass, a served answer is the handler's (CPUIDPolicy on the
  /// host's answer); subleaf-indexed leaves are served for ECX = 0 only.
  func testEveryServedAnswerIsTheHandlersAnswer() {
    for apic in [false, true] {
      for vcpu in [0, 2] {
        for slot in 0..<CPUIDAnswerTable.slotCount {
          let leaf = CPUIDAnswerTable.leaf(atSlot: slot)
          guard
            let answer = CPUIDAnswerTable.answer(
              slot: slot, vcpuIndex: vcpu, hasLocalAPIC: apic, vcpuCount: 4, host: host)
          else { continue }
          let subleaves: [UInt32] = answer.subleaf.map { [$0] } ?? [0, 1, 2, 0xFFFF_FFFF]
          for subleaf in subleaves {
            let slow = CPUIDPolicy.apply(
              leaf: leaf, subleaf: subleaf, host: host(leaf, subleaf), vcpuIndex: vcpu,
              hasLocalAPIC: apic, vcpuCount: 4)
            XCTAssertEqual(answer.result, slow, "leaf \(leaf) subleaf \(subleaf)")
          }
        }
      }
    }
  }

  func testIndexedLeavesServeSubleafZeroOnly() {
    for leaf: UInt32 in [0x4, 0x7, 0xB, 0x1F, 0x8000_001D] {
      let slot = Int(leaf >> 30) * 32 + Int(leaf & 0x1F)
      let answer = CPUIDAnswerTable.answer(
        slot: slot, vcpuIndex: 0, hasLocalAPIC: true, vcpuCount: 2, host: host)
      XCTAssertEqual(answer?.subleaf, 0, "leaf \(leaf)")
    }
    let plain = CPUIDAnswerTable.answer(
      slot: 0, vcpuIndex: 0, hasLocalAPIC: true, vcpuCount: 2, host: host)
    XCTAssertNotNil(plain)
    XCTAssertNil(plain?.subleaf)
  }

  /// Leaf 1 is tabled because it does not follow guest state: XSAVE and OSXSAVE stay hidden.
  /// If XSAVE is ever offered, leaf 1 (OSXSAVE follows CR4) must leave the table first.
  func testTabledLeavesDoNotFollowGuestState() {
    let everything = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~0, edx: ~0)
    let leaf1 = CPUIDPolicy.apply(leaf: 1, subleaf: 0, host: everything, vcpuIndex: 0)
    XCTAssertEqual(leaf1.ecx & (1 << 26 | 1 << 27), 0, "XSAVE/OSXSAVE offered: untable leaf 1")
    XCTAssertNil(
      CPUIDAnswerTable.answer(slot: 0xD, vcpuIndex: 0, hasLocalAPIC: false, vcpuCount: 1) {
        _, _ in everything
      })
  }

  /// Leaf 7's OSPKE follows CR4.PKE: with PKU offered the slow path answers it; without
  /// PKU it is constant and tabled.
  func testLeafSevenLeavesTheTableWherePKUIsOffered() {
    let everything = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~0, edx: ~0)
    XCTAssertNil(
      CPUIDAnswerTable.answer(slot: 7, vcpuIndex: 0, hasLocalAPIC: false, vcpuCount: 1) {
        _, _ in everything
      })
    let noPKU = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~CPUIDPolicy.pku, edx: ~0)
    XCTAssertNotNil(
      CPUIDAnswerTable.answer(slot: 7, vcpuIndex: 0, hasLocalAPIC: false, vcpuCount: 1) {
        _, _ in noPKU
      })
  }

  /// With a local APIC, leaves 1 and 0x8000_0001 follow IA32_APIC_BASE.EN (the APIC bit,
  /// SDM 3A §11.4.3): the slow path answers them.
  func testTheAPICBitsLeavesAreNotTabledWithALocalAPIC() {
    for slot in [1, 64 + 1] {
      XCTAssertNil(
        CPUIDAnswerTable.answer(
          slot: slot, vcpuIndex: 0, hasLocalAPIC: true, vcpuCount: 1, host: host))
      XCTAssertNotNil(
        CPUIDAnswerTable.answer(
          slot: slot, vcpuIndex: 0, hasLocalAPIC: false, vcpuCount: 1, host: host))
    }
    let everything = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~0, edx: ~0)
    for leaf: UInt32 in [1, 0x8000_0001] {
      let enabled = CPUIDPolicy.apply(
        leaf: leaf, subleaf: 0, host: everything, vcpuIndex: 0, hasLocalAPIC: true)
      let disabled = CPUIDPolicy.apply(
        leaf: leaf, subleaf: 0, host: everything, vcpuIndex: 0, hasLocalAPIC: true,
        localAPICEnabled: false)
      XCTAssertEqual(enabled.edx & 1 << 9, 1 << 9, "leaf \(leaf)")
      XCTAssertEqual(disabled.edx & 1 << 9, 0, "leaf \(leaf)")
      XCTAssertEqual(disabled.edx | 1 << 9, enabled.edx, "only the APIC bit")
    }
  }

  func testAnswersArePerVCPU() {
    let first = CPUIDAnswerTable.answer(
      slot: 1, vcpuIndex: 0, hasLocalAPIC: false, vcpuCount: 2, host: host)
    let second = CPUIDAnswerTable.answer(
      slot: 1, vcpuIndex: 1, hasLocalAPIC: false, vcpuCount: 2, host: host)
    XCTAssertEqual((first?.result.ebx ?? 1 << 24) >> 24, 0)
    XCTAssertEqual((second?.result.ebx ?? 0) >> 24, 1, "leaf 1 EBX[31:24]: the APIC ID")
    XCTAssertNotEqual(first, second)
  }
}
