// fuzz-modules: PCI
// An SR-IOV physical function's extended configuration space as the node reads it at boot
// (Kernel/PCI/SRIOVDevices.swift), the MCFG that locates it, and the NVMe Identify data the
// PF's admin queue returns: a device or the firmware chooses every byte.
//
// Checks, beyond not trapping: the extended capability walk ends within 960 entries at
// dword-aligned offsets 0x100-0xFFC; VF BAR sizing writes every VF BAR back as it was; VF
// routing IDs stay on the PF's bus and are distinct; every VF BAR region is a power-of-two
// size times the count; placed ranges never overlap; MCFG windows are 1 MiB aligned; a
// secondary controller list has at most 127 entries and a resource share is at least 2 VQ
// and 1 VI; a Namespace List is at most 1024 ascending NSIDs, none zero or reserved; a
// Controller List at most 2047 IDs; the namespace attachment rule names each namespace and
// each controller at most once, only unattached namespaces and only secondaries that see
// none; the release audit detaches only namespaces the controller has, never its own; the
// admin guard's shadow slot is the guest's (allowed opcode) or the refused opcode with the
// guest's identifier alone, and a store touches only slots of the ring.
//
// Input: up to 4096 bytes of configuration space (zero-padded), then 24 bytes of VF BAR
// masks, then the bytes given to the MCFG and NVMe parsers.
import PCI

final class Space: PCIExpressConfigurationSpace {
  var bytes: [UInt8]
  var masks: [UInt16: UInt32] = [:]
  init(_ bytes: [UInt8]) { self.bytes = bytes }
  func read32(_ offset: UInt16) -> UInt32 {
    let o = Int(offset & 0xFFC)
    return UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
      | UInt32(bytes[o + 3]) << 24
  }
  func write32(_ offset: UInt16, _ value: UInt32) {
    let o = offset & 0xFFC
    var stored = value
    if let mask = masks[o] { stored = value & mask | read32(o) & ~mask }
    for i in 0..<4 { bytes[Int(o) + i] = UInt8(truncatingIfNeeded: stored >> (8 * UInt32(i))) }
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  let raw = Array(UnsafeBufferPointer(start: data, count: size))
  var config = Array(raw.prefix(4096))
  config += [UInt8](repeating: 0, count: 4096 - config.count)
  let rest = Array(raw.dropFirst(4096))
  let space = Space(config)
  let capabilities = PCIExtendedCapability.list(space)
  precondition(capabilities.count <= 960, "the extended capability walk did not end")
  for capability in capabilities {
    precondition(
      capability.offset >= 0x100 && capability.offset <= 0xFFC && capability.offset & 3 == 0,
      "an extended capability outside 0x100-0xFFC")
  }
  if let offset = SRIOVCapability.find(space) {
    for index in 0..<6 where rest.count >= 4 * index + 4 {
      let o = 4 * index
      let mask =
        UInt32(rest[o]) | UInt32(rest[o + 1]) << 8 | UInt32(rest[o + 2]) << 16
        | UInt32(rest[o + 3]) << 24
      if Int(offset) + 0x24 + o + 4 <= 4096 { space.masks[offset + 0x24 + UInt16(o)] = mask }
    }
    var before: [UInt32] = []
    for index in 0..<6 {
      let register = Int(offset) + 0x24 + 4 * index
      before.append(register + 4 <= 4096 ? space.read32(UInt16(register)) : 0)
    }
    if let capability = SRIOVCapability(space, at: offset) {
      for index in 0..<6 {
        let register = offset + 0x24 + UInt16(4 * index)
        let mask = space.masks[register] ?? 0xFFFF_FFFF
        precondition(
          space.read32(register) == before[index] & mask | before[index] & ~mask,
          "a VF BAR was not restored")
      }
      precondition(capability.bars.count == 6, "not six VF BARs")
      let physical = PCIAddress(bus: config[0], device: config[1], function: config[2])
      for count in 1...min(Int(capability.totalVFs), 16) + 1 {
        if let vfs = try? capability.virtualFunctions(of: physical, count: count) {
          precondition(vfs.count == count, "a VF missing")
          precondition(vfs.allSatisfy { $0.bus == physical.bus }, "a VF on another bus")
          precondition(!vfs.contains(physical), "a VF at the PF's own routing ID")
          for (i, a) in vfs.enumerated() {
            precondition(!vfs[(i + 1)...].contains(a), "two VFs share a routing ID")
          }
        }
        if let regions = try? capability.regions(count: count) {
          var gap = PCIMemoryGap(start: 0xC000_0000, end: 0xFEC0_0000)
          var placed: [(UInt64, UInt64)] = []
          for region in regions {
            precondition(region.size % UInt64(count) == 0, "a region not size × count")
            let one = region.size / UInt64(count)
            precondition(one != 0 && one & (one - 1) == 0, "a VF BAR size not a power of two")
            if let base = gap.place(size: region.size) {
              precondition(base % region.size == 0, "a region not naturally aligned")
              precondition(
                !placed.contains { base < $0.0 &+ $0.1 && $0.0 < base &+ region.size },
                "two regions overlap")
              placed.append((base, region.size))
            }
          }
        }
      }
    }
  }
  let tail = Array(rest.dropFirst(24))
  for region in PCIExpressConfigurationRegion.parse(mcfg: tail) {
    precondition(
      region.base & 0xF_FFFF == 0 && region.endBus >= region.startBus, "a bad MCFG region")
  }
  precondition(NVMeSecondaryController.list(tail).count <= 127, "more than 127 secondaries")
  let namespaceIDs = NVMeNamespaceAttachment.namespaces(tail)
  precondition(namespaceIDs.count <= 1024, "more than 1024 namespaces")
  for (index, id) in namespaceIDs.enumerated() {
    precondition(id != 0 && id < 0xFFFF_FFFE, "a zero or reserved NSID")
    precondition(index == 0 || id > namespaceIDs[index - 1], "NSIDs out of order")
  }
  let controllerIDs = NVMeNamespaceAttachment.controllers(tail)
  precondition(controllerIDs.count <= 2047, "more than 2047 controllers")
  // The same bytes as a subsystem: the first namespaces attached to the listed controllers
  // in turn (every other one to none), the secondaries the list's IDs.
  let namespaces = namespaceIDs.prefix(64).enumerated().map { index, id in
    NVMeNamespaceAttachment.Namespace(
      id: id,
      attached: index % 2 == 0 || controllerIDs.isEmpty
        ? [] : [controllerIDs[index % controllerIDs.count]])
  }
  let secondaries = Array(controllerIDs.prefix(64))
  let steps = NVMeNamespaceAttachment.plan(namespaces: namespaces, secondaries: secondaries)
  for (index, step) in steps.enumerated() {
    precondition(
      !steps[..<index].contains {
        $0.namespace == step.namespace || $0.controller == step.controller
      },
      "a namespace or controller attached twice")
    precondition(
      namespaces.contains { $0.id == step.namespace && $0.attached.isEmpty },
      "an attached namespace given again")
    precondition(
      secondaries.contains(step.controller)
        && !namespaces.contains { $0.attached.contains(step.controller) },
      "a controller that already sees a namespace given one")
  }
  for controller in secondaries.prefix(8) {
    let own = namespaceIDs.first ?? 1
    let audit = NVMeNamespaceAttachment.audit(
      controller: controller, own: own, namespaces: namespaces)
    precondition(
      audit.foreign.allSatisfy { id in
        id != own && namespaces.contains { $0.id == id && $0.attached.contains(controller) }
      }, "the audit detaches a namespace the controller does not have, or its own")
    precondition(!audit.ownElsewhere.contains(controller), "its own controller counted elsewhere")
  }
  // The same bytes as a guest's admin submission queue slots (the NVMe admin guard): a
  // shadow slot is the guest's when its opcode is allowed, else the refused opcode with the
  // guest's identifier and nothing else; a store touches only slots of the ring.
  var ring = NVMeAdminShadowRing(guestBase: 0x10_0000, entries: 32)!
  var dwords: [UInt32] = []
  for index in stride(from: 0, to: min(tail.count, 32 * 64) & ~3, by: 4) {
    dwords.append(
      UInt32(tail[index]) | UInt32(tail[index + 1]) << 8 | UInt32(tail[index + 2]) << 16
        | UInt32(tail[index + 3]) << 24)
  }
  for slot in 0..<dwords.count / 16 {
    let guest = Array(dwords[slot * 16..<slot * 16 + 16])
    let shadow = ring.copy(slot: slot, guest: guest)
    let opcode = UInt8(truncatingIfNeeded: shadow[0])
    precondition(
      NVMeAdminGuard.allows(opcode: opcode) || opcode == NVMeAdminGuard.refusedOpcode,
      "a shadow slot with an unchecked opcode")
    precondition(
      shadow == guest
        || (shadow[0] == guest[0] & 0xFFFF_0000 | UInt32(NVMeAdminGuard.refusedOpcode)
          && shadow.dropFirst().allSatisfy { $0 == 0 }),
      "a shadow slot that is neither")
  }
  if dwords.count >= 2 {
    let touched = ring.slots(touching: UInt64(dwords[0]), length: UInt64(dwords[1] & 0xFFFF))
    precondition(touched.lowerBound >= 0 && touched.upperBound <= ring.entries, "a slot outside")
  }
  if let primary = NVMePrimaryControllerCapabilities(tail) {
    for count in 1...4 {
      if let share = primary.share(among: count) {
        precondition(share.queues >= 2 && share.interrupts >= 1, "a share too small to go online")
      }
    }
  }
  return 0
}
