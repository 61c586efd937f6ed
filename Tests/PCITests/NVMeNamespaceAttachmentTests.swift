import XCTest

@testable import PCI

final class NVMeNamespaceAttachmentTests: XCTestCase {
  func testAttachAndIdentifyEncodings() {
    // §5.19: opcode 15h, NSID in dword 1, the Controller List's page in PRP1, SEL 0 (attach).
    let attach = NVMeNamespaceAttachment.attach(namespace: 2, id: 9, page: 0x1_0000_3000)
    XCTAssertEqual(attach.count, 16)
    XCTAssertEqual(attach[0], 0x0009_0015)
    XCTAssertEqual(attach[1], 2)
    XCTAssertEqual(attach[6], 0x0000_3000)
    XCTAssertEqual(attach[7], 1)
    XCTAssertEqual(attach[10] & 0xF, 0)
    // Identify CNS 12h names the namespace in dword 1; CNS 10h starts above NSID 0.
    let attached = NVMeAdmin.identify(
      cns: NVMeNamespaceAttachment.attachedControllerList, namespace: 3, id: 4, page: 0x5000)
    XCTAssertEqual(attached[0], 0x0004_0006)
    XCTAssertEqual(attached[1], 3)
    XCTAssertEqual(attached[10], 0x12)
    let allocated = NVMeAdmin.identify(
      cns: NVMeNamespaceAttachment.allocatedNamespaceList, id: 5, page: 0x6000)
    XCTAssertEqual(allocated[1], 0)
    XCTAssertEqual(allocated[10], 0x10)
    // The earlier commands keep dword 1 zero (no namespace).
    XCTAssertEqual(NVMeAdmin.virtualization(.secondaryOnline, controller: 1, id: 1)[1], 0)
  }

  func testControllerListBothWays() throws {
    let bytes = try XCTUnwrap(NVMeNamespaceAttachment.controllerList([2, 0x0102]))
    XCTAssertEqual(bytes.count, 4096)
    XCTAssertEqual(Array(bytes[0..<6]), [2, 0, 2, 0, 0x02, 0x01])
    XCTAssertTrue(bytes[6...].allSatisfy { $0 == 0 })
    XCTAssertEqual(NVMeNamespaceAttachment.controllers(bytes), [2, 0x0102])
    XCTAssertNil(NVMeNamespaceAttachment.controllerList([]))
    XCTAssertNil(
      NVMeNamespaceAttachment.controllerList([UInt16](repeating: 1, count: 2048)))
    XCTAssertNotNil(
      NVMeNamespaceAttachment.controllerList([UInt16](repeating: 1, count: 2047)))
    // A count beyond the bytes is cut to them; a count beyond 2047 to 2047; none: empty.
    XCTAssertEqual(NVMeNamespaceAttachment.controllers([5, 0, 7, 0, 8]), [7])
    var huge = [UInt8](repeating: 0, count: 8192)
    huge[0] = 0xFF
    huge[1] = 0xFF
    XCTAssertEqual(NVMeNamespaceAttachment.controllers(huge).count, 2047)
    XCTAssertEqual(NVMeNamespaceAttachment.controllers([1]), [])
  }

  func testNamespaceListEndsAtZeroAndAtDisorder() {
    func list(_ ids: [UInt32]) -> [UInt8] {
      var bytes = [UInt8](repeating: 0, count: 4096)
      for (index, id) in ids.enumerated() {
        for byte in 0..<4 { bytes[4 * index + byte] = UInt8(truncatingIfNeeded: id >> (8 * byte)) }
      }
      return bytes
    }
    XCTAssertEqual(
      NVMeNamespaceAttachment.namespaces(list([1, 2, 0x0100_0000])), [1, 2, 0x0100_0000])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(list([])), [])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(list([1, 3, 0, 4])), [1, 3])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(list([2, 2, 3])), [2])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(list([2, 1])), [2])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(list([1, 0xFFFF_FFFF])), [1])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(list([0xFFFF_FFFE])), [])
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces([1, 0, 0]), [])  // not one whole entry
    // At most 1024 entries.
    var full = [UInt8](repeating: 0, count: 8192)
    for index in 0..<2048 {
      full[4 * index] = UInt8(truncatingIfNeeded: index + 1)
      full[4 * index + 1] = UInt8((index + 1) >> 8)
    }
    XCTAssertEqual(NVMeNamespaceAttachment.namespaces(full).count, 1024)
  }

  func testPlanOnePrivateNamespacePerSecondaryInOrder() {
    typealias N = NVMeNamespaceAttachment.Namespace
    typealias S = NVMeNamespaceAttachment.Step
    // The integration case: namespaces 1 and 2 detached, secondaries 1 and 2 (VF order).
    XCTAssertEqual(
      NVMeNamespaceAttachment.plan(
        namespaces: [N(id: 2, attached: []), N(id: 1, attached: [])], secondaries: [1, 2]),
      [S(namespace: 1, controller: 1), S(namespace: 2, controller: 2)])
    // The PF's own namespace (attached to controller 0) is left alone; a secondary that
    // already sees a (shared) namespace gets nothing more; the VF order is kept.
    XCTAssertEqual(
      NVMeNamespaceAttachment.plan(
        namespaces: [N(id: 1, attached: [0]), N(id: 3, attached: []), N(id: 5, attached: [2])],
        secondaries: [2, 1]),
      [S(namespace: 3, controller: 1)])
    // Too few namespaces: the later secondaries get none; too many: the rest stay detached.
    XCTAssertEqual(
      NVMeNamespaceAttachment.plan(namespaces: [N(id: 4, attached: [])], secondaries: [1, 2]),
      [S(namespace: 4, controller: 1)])
    XCTAssertEqual(
      NVMeNamespaceAttachment.plan(
        namespaces: [N(id: 1, attached: []), N(id: 2, attached: [])], secondaries: [7]),
      [S(namespace: 1, controller: 7)])
    // A controller named twice, or a namespace listed twice, is attached once.
    XCTAssertEqual(
      NVMeNamespaceAttachment.plan(
        namespaces: [N(id: 1, attached: []), N(id: 1, attached: [])], secondaries: [1, 1, 2]),
      [S(namespace: 1, controller: 1)])
    XCTAssertEqual(NVMeNamespaceAttachment.plan(namespaces: [], secondaries: [1]), [])
    XCTAssertEqual(
      NVMeNamespaceAttachment.plan(namespaces: [N(id: 1, attached: [])], secondaries: []), [])
  }

  func testDetachEncodingAndTheReleaseAudit() {
    let detach = NVMeNamespaceAttachment.detach(namespace: 2, id: 3, page: 0x7000)
    XCTAssertEqual(detach[0], 0x0003_0015)
    XCTAssertEqual(detach[1], 2)
    XCTAssertEqual(detach[6], 0x7000)
    XCTAssertEqual(detach[10] & 0xF, 1)
    typealias N = NVMeNamespaceAttachment.Namespace
    typealias A = NVMeNamespaceAttachment.Audit
    // As booted: nothing to do.
    XCTAssertEqual(
      NVMeNamespaceAttachment.audit(
        controller: 1, own: 1, namespaces: [N(id: 1, attached: [1]), N(id: 2, attached: [2])]),
      A(foreign: [], ownMissing: false, ownElsewhere: []))
    // The case's guest on controller 1 took namespace 2 from controller 2: at VF 1's
    // release namespace 2 is foreign there; at VF 2's its own is elsewhere (on 1).
    let taken = [N(id: 1, attached: [1]), N(id: 2, attached: [1])]
    XCTAssertEqual(
      NVMeNamespaceAttachment.audit(controller: 1, own: 1, namespaces: taken),
      A(foreign: [2], ownMissing: false, ownElsewhere: []))
    XCTAssertEqual(
      NVMeNamespaceAttachment.audit(controller: 2, own: 2, namespaces: taken),
      A(foreign: [], ownMissing: true, ownElsewhere: [1]))
    // Its own detached by its guest and left free; a namespace listed twice counts once.
    XCTAssertEqual(
      NVMeNamespaceAttachment.audit(
        controller: 1, own: 1,
        namespaces: [N(id: 1, attached: []), N(id: 3, attached: [1, 2]), N(id: 3, attached: [1])]),
      A(foreign: [3], ownMissing: true, ownElsewhere: []))
    // Its own unknown to the subsystem: missing, nowhere else.
    XCTAssertEqual(
      NVMeNamespaceAttachment.audit(controller: 1, own: 9, namespaces: []),
      A(foreign: [], ownMissing: true, ownElsewhere: []))
  }
}
