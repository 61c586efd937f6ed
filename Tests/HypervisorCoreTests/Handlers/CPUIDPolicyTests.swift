import HypervisorCore
import XCTest

/// What the policy hides from a host that offers everything (all bits set): each feature
/// whose state or MSRs Peregrine does not virtualize.
final class CPUIDPolicyTests: XCTestCase {
  private let everything = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~0, edx: ~0)

  private func apply(_ leaf: UInt32, subleaf: UInt32 = 0, apic: Bool = false) -> CPUIDLeaf {
    CPUIDPolicy.apply(
      leaf: leaf, subleaf: subleaf, host: everything, vcpuIndex: 3, hasLocalAPIC: apic)
  }

  func testLeafOneHidesWhatIsNotVirtualized() {
    let leaf = apply(1)
    for bit in [3, 5, 12, 21, 24, 26, 27, 28, 29] {
      XCTAssertEqual(leaf.ecx & (1 << UInt32(bit)), 0, "ECX bit \(bit)")
    }
    XCTAssertEqual(leaf.ecx >> 31, 1, "hypervisor present")
    XCTAssertEqual(leaf.ebx >> 24, 3, "APIC ID is the vCPU index")
    XCTAssertEqual(
      apply(1, apic: true).ecx & (1 << 24), 1 << 24, "TSC-deadline with a modelled APIC")
    XCTAssertEqual(apply(1, apic: true).ecx & (1 << 21), 1 << 21, "x2APIC with a modelled APIC")
  }

  /// Leaf 1 EBX and leaf 0xB describe the VM's vCPUs as one core each in one package, with
  /// the vCPU index as APIC ID (the MADT's).
  func testTopologyLeavesDescribeTheVCPUs() {
    func leaf(_ number: UInt32, _ subleaf: UInt32, index: Int, count: Int) -> CPUIDLeaf {
      CPUIDPolicy.apply(
        leaf: number, subleaf: subleaf, host: everything, vcpuIndex: index, hasLocalAPIC: true,
        vcpuCount: count)
    }
    let one = leaf(1, 0, index: 2, count: 3)
    XCTAssertEqual(one.ebx >> 24, 2)
    XCTAssertEqual((one.ebx >> 16) & 0xFF, 4, "addressable IDs: 3 rounded up to a power of 2")
    XCTAssertEqual(one.ebx & 0xFFFF, 0xFFFF, "brand index and CLFLUSH size pass through")
    for number: UInt32 in [0xB, 0x1F] {
      XCTAssertEqual(
        leaf(number, 0, index: 2, count: 3), CPUIDLeaf(eax: 0, ebx: 1, ecx: 0x100, edx: 2),
        "SMT level: one thread per core")
      XCTAssertEqual(
        leaf(number, 1, index: 2, count: 3), CPUIDLeaf(eax: 2, ebx: 3, ecx: 0x201, edx: 2),
        "core level: three cores, two ID bits")
      XCTAssertEqual(
        leaf(number, 2, index: 2, count: 3), CPUIDLeaf(eax: 0, ebx: 0, ecx: 2, edx: 2),
        "no further level")
    }
    XCTAssertEqual(leaf(0xB, 1, index: 0, count: 1), CPUIDLeaf(eax: 0, ebx: 1, ecx: 0x201, edx: 0))
    XCTAssertEqual(leaf(0xB, 1, index: 5, count: 64).eax, 6)
    XCTAssertEqual((leaf(1, 0, index: 0, count: 1).ebx >> 16) & 0xFF, 1)

    XCTAssertEqual(leaf(4, 0, index: 2, count: 3).eax >> 26, 3, "leaf 4: 4 core IDs - 1")
    XCTAssertEqual(leaf(4, 0, index: 2, count: 3).eax & 0x03FF_FFFF, 0x03FF_FFFF, "host cache")
    let amd = leaf(0x8000_0008, 0, index: 2, count: 3)
    XCTAssertEqual(amd.ecx & 0xFF, 2, "NC: 3 cores - 1")
    XCTAssertEqual((amd.ecx >> 12) & 0xF, 2, "ApicIdSize: two core bits")
    XCTAssertEqual(
      leaf(0x8000_001E, 0, index: 2, count: 3), CPUIDLeaf(eax: 2, ebx: 2, ecx: 0, edx: 0),
      "extended APIC ID and core ID = index, one thread per core, one node")
  }

  func testPowerAndSpeculationMSRsAreNotOffered() {
    XCTAssertEqual(apply(6).ecx & 1, 0, "APERF/MPERF")
    let leaf7 = apply(7)
    XCTAssertEqual(leaf7.ebx & (1 << 1), 0, "TSC_ADJUST")
    for bit in [26, 27, 28, 29, 31] {
      XCTAssertEqual(leaf7.edx & (1 << UInt32(bit)), 0, "leaf 7 EDX bit \(bit)")
    }
    let extended8 = apply(0x8000_0008)
    for bit in [12, 14, 15, 24, 25] {
      XCTAssertEqual(extended8.ebx & (1 << UInt32(bit)), 0, "8000_0008 EBX bit \(bit)")
    }
    XCTAssertEqual(apply(0xD), CPUIDLeaf(), "no XSAVE state")
  }

  /// RDTSCP, RDPID and PKU pass where the host has them (TSC_AUX and PKRU are switched per
  /// vCPU), and PKS (IA32_PKRS likewise); OSPKE is never the host's but the guest's CR4.PKE.
  func testTSCAuxAndProtectionKeyFeaturesFollowTheHostAndTheGuestsCR4() {
    XCTAssertNotEqual(apply(0x8000_0001).edx & CPUIDPolicy.rdtscp, 0, "RDTSCP")
    let leaf7 = apply(7)
    XCTAssertNotEqual(leaf7.ecx & CPUIDPolicy.rdpid, 0, "RDPID")
    XCTAssertNotEqual(leaf7.ecx & CPUIDPolicy.pku, 0, "PKU")
    XCTAssertEqual(leaf7.ecx & CPUIDPolicy.osPKE, 0, "OSPKE with the guest's CR4.PKE = 0")
    XCTAssertNotEqual(leaf7.ecx & CPUIDPolicy.pks, 0, "PKS")
    let enabled = CPUIDPolicy.apply(
      leaf: 7, subleaf: 0, host: everything, vcpuIndex: 0, osPKE: true)
    XCTAssertNotEqual(enabled.ecx & CPUIDPolicy.osPKE, 0, "OSPKE with CR4.PKE = 1")
    // A host without them (EPYC has RDTSCP, no RDPID, no PKU): nothing appears.
    let bare = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~(CPUIDPolicy.pku | CPUIDPolicy.rdpid), edx: ~0)
    let hidden = CPUIDPolicy.apply(leaf: 7, subleaf: 0, host: bare, vcpuIndex: 0, osPKE: true)
    XCTAssertEqual(hidden.ecx & (CPUIDPolicy.pku | CPUIDPolicy.osPKE | CPUIDPolicy.rdpid), 0)
    let noRDTSCP = CPUIDPolicy.apply(
      leaf: 0x8000_0001, subleaf: 0, host: CPUIDLeaf(edx: ~CPUIDPolicy.rdtscp), vcpuIndex: 0)
    XCTAssertEqual(noRDTSCP.edx & CPUIDPolicy.rdtscp, 0)
    XCTAssertFalse(
      CPUIDPolicy.offersProtectionKeys(host: { leaf, _ in leaf == 0 ? CPUIDLeaf(eax: 7) : bare }))
    XCTAssertTrue(CPUIDPolicy.offersProtectionKeys(host: { _, _ in self.everything }))
  }

  func testLeavesNotEditedPassThrough() {
    XCTAssertEqual(apply(0x8000_0002), everything, "brand string")
    XCTAssertEqual(apply(7, subleaf: 1), CPUIDLeaf(), "only subleaf 0 of leaf 7 is offered")
    XCTAssertEqual(apply(7).eax, 0, "the highest subleaf of leaf 7 is 0")
  }
}
