import HypervisorCore
import PCI

/// The NVMe admin guard of one VF a VM owns (docs/passthrough.md, "NVMe admin guard"):
/// QEMU 7.2's VF controllers take Namespace Attachment naming any controller, so the device
/// must never fetch a guest's admin command unchecked. The device fetches from a node-owned
/// shadow queue (`NVMeShadowQueue`) instead of the guest's, while the doorbells stay mapped.
///
/// - The register page (BAR0 0x0-0xFFF, NVM Express 1.4 §3.1) is this model's: the guest's
///   ASQ (0x28) is kept here for its reads and never reaches the device; when the guest
///   sets CC.EN (0x14 bit 0), the device's ASQ becomes the shadow's I/O virtual address,
///   the guest's ring pages are write-protected in nested paging and every slot copied.
///   NSSR (0x20, NVM Subsystem Reset) is dropped: it would reset the other VMs' controllers.
///   Everything else goes to the device.
/// - Every guest store into a protected page exits; `stored` copies each slot it touched
///   into the shadow, through `NVMeAdminShadowRing` (the allow-list, `NVMeAdminGuard`). The
///   controller fetches a slot only after the tail doorbell the guest writes after its
///   stores, so the shadow holds the command by then; and whatever the guest does, the
///   shadow holds only checked commands.
///
/// Called under the VM's device lock (BAR and MMIO exits), so never twice at once.
final class NVMeAdminShadow: PassthroughBARInterposer {
  let bar = 0
  let pages: Range<UInt64> = 0..<0x1000
  unowned(unsafe) let vm: VirtualMachine
  let vmName: [UInt8]
  let access: HostPassthroughAccess
  let queue: NVMeShadowQueue
  /// Write-protects guest pages in the VM's nested paging (and posts the TLB flush), or
  /// gives them their write right back.
  let protect: ([UInt64]) -> Bool
  let allow: ([UInt64]) -> Void
  /// The guest's ASQ as it wrote it, and the ring while the controller is enabled.
  private var guestASQ: UInt64 = 0
  private var ring: NVMeAdminShadowRing?
  private var protectedPages: [UInt64] = []
  private var logged = false
  /// The slot being copied, read from guest memory: one buffer for the guard's life, so a
  /// store exit (and an enable's up to 4096 slots) allocates nothing for an allowed command.
  private var slotWords = [UInt32](repeating: 0, count: 16)

  static let configuration: UInt64 = 0x14
  static let subsystemReset: UInt64 = 0x20
  static let adminQueueAttributes: UInt64 = 0x24
  static let adminSubmissionQueue: UInt64 = 0x28

  init(
    vm: VirtualMachine, access: HostPassthroughAccess, queue: NVMeShadowQueue,
    protect: @escaping ([UInt64]) -> Bool, allow: @escaping ([UInt64]) -> Void
  ) {
    self.vm = vm
    self.vmName = vm.name
    self.access = access
    self.queue = queue
    self.protect = protect
    self.allow = allow
  }

  func read(offset: UInt64, size: UInt8) -> UInt64 {
    queue.registerAccesses &+= 1
    let asq = Self.adminSubmissionQueue
    guard offset + UInt64(size) > asq, offset < asq + 8 else {
      return access.readMMIO(bar: bar, offset: offset, size: size)
    }
    // Only an access that lies inside ASQ reads the guest's value; one straddling it reads
    // the device for the rest (no driver does that).
    guard offset >= asq, offset + UInt64(size) <= asq + 8 else {
      return access.readMMIO(bar: bar, offset: offset, size: size)
    }
    let value = guestASQ >> ((offset - asq) * 8)
    return size >= 8 ? value : value & ((1 << (UInt64(size) * 8)) - 1)
  }

  func write(offset: UInt64, size: UInt8, value: UInt64) {
    queue.registerAccesses &+= 1
    // A 64-bit write is its two dwords (ASQ and ACQ are written so by Linux's lo_hi_writeq).
    if size == 8 {
      writeDword(offset, UInt32(truncatingIfNeeded: value))
      writeDword(offset + 4, UInt32(truncatingIfNeeded: value >> 32))
    } else if size == 4 && offset & 3 == 0 {
      writeDword(offset, UInt32(truncatingIfNeeded: value))
    } else if offset >= Self.configuration && offset < Self.adminSubmissionQueue + 8 {
      // A byte or word write into CC, NSSR, AQA or ASQ: merged into its dword.
      let dword = offset & ~3
      let shift = (offset - dword) * 8
      let mask = ((UInt64(1) << (UInt64(size) * 8)) - 1) << shift
      let old = UInt64(UInt32(truncatingIfNeeded: read(offset: dword, size: 4)))
      writeDword(dword, UInt32(truncatingIfNeeded: old & ~mask | (value << shift) & mask))
    } else {
      access.writeMMIO(bar: bar, offset: offset, size: size, value: value)
    }
  }

  private func writeDword(_ offset: UInt64, _ value: UInt32) {
    switch offset {
    case Self.adminSubmissionQueue:
      guestASQ = guestASQ & 0xFFFF_FFFF_0000_0000 | UInt64(value)
    case Self.adminSubmissionQueue + 4:
      guestASQ = guestASQ & 0xFFFF_FFFF | UInt64(value) << 32
    case Self.subsystemReset:
      break
    case Self.configuration:
      let enabled = access.readMMIO(bar: bar, offset: offset, size: 4) & 1 != 0
      let enabling = value & 1 != 0
      if enabling && !enabled { enable() }
      access.writeMMIO(bar: bar, offset: offset, size: 4, value: UInt64(value))
      if !enabling && enabled { disable() }
    default:
      access.writeMMIO(bar: bar, offset: offset, size: 4, value: UInt64(value))
    }
  }

  /// CC.EN 0 → 1 (§7.6.1 step 5: ASQ and AQA are set by now): the guest's ring protected
  /// and copied, the device pointed at the shadow.
  private func enable() {
    disable()
    queue.enables &+= 1
    queue.clear()
    let aqa = access.readMMIO(bar: bar, offset: Self.adminQueueAttributes, size: 4)
    // A ring the controller would refuse (misaligned ASQ) gets no copies: the device
    // fetches zeroes from the shadow, which it refuses, and the guest's driver times out.
    if let made = NVMeAdminShadowRing(guestBase: guestASQ, entries: Int(aqa & 0xFFF) + 1) {
      ring = made
      // Pages outside RAM cannot be protected; they are not copied either (no RAM to read).
      if protect(made.guestPages) { protectedPages = made.guestPages }
      for slot in 0..<made.entries { copy(slot) }
    }
    access.writeMMIO(
      bar: bar, offset: Self.adminSubmissionQueue, size: 4, value: queue.iova & 0xFFFF_FFFF)
    access.writeMMIO(
      bar: bar, offset: Self.adminSubmissionQueue + 4, size: 4, value: queue.iova >> 32)
  }

  /// CC.EN 1 → 0 (or a new enable): the guest's pages writable again. The shadow keeps
  /// what it holds (checked commands) until the next enable clears it.
  private func disable() {
    if !protectedPages.isEmpty { allow(protectedPages) }
    protectedPages = []
    ring = nil
  }

  /// A guest store of `length` bytes at `guestPhysical` was performed (the RAM window):
  /// every slot of the ring it touched is copied again.
  func stored(_ guestPhysical: UInt64, length: UInt64) {
    guard let ring else { return }
    let slots = ring.slots(touching: guestPhysical, length: length)
    guard !slots.isEmpty else { return }
    queue.stores &+= 1
    for slot in slots { copy(slot) }
  }

  private func copy(_ slot: Int) {
    guard var ring else { return }
    let address = ring.guestBase + UInt64(slot) * NVMeAdminShadowRing.entrySize
    guard let pointer = vm.memory.pointer(to: address, length: NVMeAdminShadowRing.entrySize)
    else { return }
    for index in 0..<16 {
      slotWords[index] = pointer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)
    }
    let guest = slotWords
    let before = ring.refusals
    queue.store(slot: slot, ring.copy(slot: slot, guest: guest))
    self.ring = ring
    guard ring.refusals != before else { return }
    queue.refusals &+= 1
    if queue.firstRefused == nil { queue.firstRefused = ring.firstRefused }
    guard !logged else { return }
    logged = true
    guard Log.begin(.warning) else { return }
    Console.write("nvme guard: vm ")
    Console.write(bytes: vmName)
    Console.write(": pci ")
    Console.write(bytes: queue.function.text)
    Console.write(": admin opcode ")
    Console.write(hex: UInt64(UInt8(truncatingIfNeeded: guest[0])))
    Console.write(
      " refused (not on the VF owner's list); the device answers Invalid Command Opcode")
    Log.end()
  }
}

/// The VM's RAM as an MMIO device, for the stores nested paging refuses on write-protected
/// admin queue pages (`NVMeAdminShadow`): each is performed in guest memory as the
/// processor would have, then every guard of the VM is told. Registered over each RAM
/// region of a VM that owns an NVMe VF; only write-protected pages fault, so nothing else
/// comes here but accesses the emulator meets on the way (the other half of a crossing
/// access), which are plain RAM accesses too.
final class GuardedRAMWindow: MMIODevice {
  let base: UInt64
  unowned(unsafe) let vm: VirtualMachine
  let guards: [NVMeAdminShadow]

  init(base: UInt64, vm: VirtualMachine, guards: [NVMeAdminShadow]) {
    self.base = base
    self.vm = vm
    self.guards = guards
  }

  func read(offset: UInt64, size: UInt8) -> UInt64 {
    guard let pointer = vm.memory.pointer(to: base &+ offset, length: UInt64(size)) else {
      return UInt64.max
    }
    switch size {
    case 1: return UInt64(pointer.load(as: UInt8.self))
    case 2: return UInt64(pointer.loadUnaligned(as: UInt16.self))
    case 4: return UInt64(pointer.loadUnaligned(as: UInt32.self))
    default: return pointer.loadUnaligned(as: UInt64.self)
    }
  }

  func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    let address = base &+ offset
    guard let pointer = vm.memory.pointer(to: address, length: UInt64(size)) else { return .none }
    switch size {
    case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
    case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
    case 4: pointer.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
    default: pointer.storeBytes(of: value, as: UInt64.self)
    }
    vm.memory.noteWrite(address, length: UInt64(size))
    for shadow in guards { shadow.stored(address, length: UInt64(size)) }
    return .none
  }
}
