import HypervisorCore
import PCI

/// The NVMe admin guard of one VF a VM owns (docs/passthrough.md, "NVMe admin guard"):
/// QEMU 7.2's VF controllers take Namespace Attachment naming any controller, so the device
/// must never fetch a guest's admin command unchecked. The device fetches from a node-owned
/// shadow queue (`NVMeShadowQueue`) instead of the guest's, while the doorbells stay mapped.
///
/// - The register page (BAR0 0x0-0xFFF, NVM Express 1.4 §3.1) is this model's, its accesses
///   decided by `NVMeRegisterPageGuard` (host-tested): the guest's ASQ (0x28) is kept there
///   for its reads and never reaches the device; when the guest sets CC.EN (0x14 bit 0),
///   the guest's ring pages are write-protected in nested paging and every slot copied,
///   then the device's ASQ becomes the shadow's I/O virtual address. NSSR (0x20, NVM
///   Subsystem Reset) is dropped: it would reset the other VMs' controllers. Everything
///   else goes to the device (a byte or word of CC or AQA merged into its dword first).
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
  /// What each register access becomes (the guest's ASQ, whether the guard is on), and the
  /// ring while it is on.
  private var registers: NVMeRegisterPageGuard
  private var ring: NVMeAdminShadowRing?
  private var protectedPages: [UInt64] = []
  private var logged = false
  private var loggedSubsystemReset = false
  /// The slot being copied, read from guest memory: one buffer for the guard's life, so a
  /// store exit (and an enable's up to 4096 slots) allocates nothing for an allowed command.
  private var slotWords = [UInt32](repeating: 0, count: 16)

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
    self.registers = NVMeRegisterPageGuard(shadowIOVA: queue.iova)
  }

  func read(offset: UInt64, size: UInt8) -> UInt64 {
    queue.registerAccesses &+= 1
    return registers.read(offset: offset, size: size) { at, width in
      access.readMMIO(bar: bar, offset: at, size: width)
    }
  }

  func write(offset: UInt64, size: UInt8, value: UInt64) {
    queue.registerAccesses &+= 1
    let actions = registers.write(offset: offset, size: size, value: value) { at, width in
      access.readMMIO(bar: bar, offset: at, size: width)
    }
    for action in actions {
      switch action {
      case .device(let at, let width, let written):
        access.writeMMIO(bar: bar, offset: at, size: width, value: written)
      case .enable(let guestASQ, let attributes):
        enable(guestASQ: guestASQ, queueAttributes: attributes)
      case .disable:
        disable()
      case .dropped(let written):
        droppedSubsystemReset(written)
      }
    }
  }

  /// CC.EN 0 → 1 (§7.6.1 step 5: ASQ and AQA are set by now): the guest's ring protected
  /// and copied; the device's ASQ (the shadow's address) and CC are the next actions.
  private func enable(guestASQ: UInt64, queueAttributes: UInt32) {
    disable()
    queue.enables &+= 1
    queue.clear()
    // A ring the controller would refuse (misaligned ASQ) gets no copies: the device
    // fetches zeroes from the shadow, which it refuses, and the guest's driver times out.
    if let made = NVMeAdminShadowRing(
      guestBase: guestASQ, entries: Int(queueAttributes & 0xFFF) + 1)
    {
      ring = made
      // Pages outside RAM cannot be protected; they are not copied either (no RAM to read).
      if protect(made.guestPages) { protectedPages = made.guestPages }
      for slot in 0..<made.entries { copy(slot) }
    }
  }

  /// A write to NSSR, dropped (it would reset every controller of the subsystem, the other
  /// VMs' too): counted, and said once per VM and device.
  private func droppedSubsystemReset(_ value: UInt32) {
    queue.subsystemResetsDropped &+= 1
    guard !loggedSubsystemReset else { return }
    loggedSubsystemReset = true
    guard Log.begin(.warning) else { return }
    Console.write("nvme guard: vm ")
    Console.write(bytes: vmName)
    Console.write(": pci ")
    Console.write(bytes: queue.function.text)
    Console.write(": NSSR write ")
    Console.write(hex: UInt64(value))
    Console.write(" dropped (an NVM Subsystem Reset would reset the other VFs' controllers)")
    Log.end()
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
