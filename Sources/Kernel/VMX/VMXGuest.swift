import CArch
import HypervisorCore
import Memory
import VMX

/// One VM under VMX: its VPID, EPT pointer, I/O and MSR bitmaps, and a VMCS per vCPU with
/// host state, the processor's resolved controls and a real-mode guest state.
final class VMXGuest {
  let vm: VirtualMachine
  let vpid: UInt32
  let eptPointer: EPTPointer
  let ioBitmaps: UInt64
  let msrBitmap: UInt64
  var vmcss: [UInt64] = []
  var launched: [Bool] = []
  /// Per vCPU: the block the world switch serves hot exits from (ExitFastPath).
  var fastPaths: [UInt64] = []
  /// Per vCPU: the CPU its VMCS is active on, -1 when cleared. A VMCS is active on at most one
  /// CPU; it moves only cleared (SDM 3C §24.11.1), and its host state is rewritten where
  /// it lands.
  var residentCPU: [Int] = []
  let vpidEnabled: Bool
  let inveptType: InveptType?
  let invvpidType: InvvpidType?
  /// The VMX-preemption timer ends time slices for guests that never exit.
  var preemptionTimer = false
  /// The SYSCALL MSRs and KernelGSbase, which no VMCS field holds: the guest uses them
  /// without exits, and they are swapped on the processor at each time slice.
  var syscallMSRs: [[UInt64]] = []
  static let syscallMSRIndices: [UInt32] = [
    0xC000_0081, 0xC000_0082, 0xC000_0083, 0xC000_0084, 0xC000_0102,
  ]
  /// MSRs the guest may use without exits: VMCS fields hold FS/GS base and SYSENTER, and
  /// the slice swap holds the rest.
  static let passthroughMSRs: [UInt32] =
    syscallMSRIndices + [0xC000_0100, 0xC000_0101, 0x174, 0x175, 0x176]

  init?(
    vm: VirtualMachine, vpid: UInt32, nestedRoot: UInt64, processor: VMXProcessor,
    cpu: PhysicalCPU
  ) {
    self.vm = vm
    self.vpid = vpid
    vpidEnabled = processor.vpidEnabled
    inveptType = processor.capabilities.preferredInveptType
    invvpidType = processor.capabilities.preferredInvvpidType
    vm.controlRegisterRules = processor.guestControlRegisterRules
    eptPointer = EPTPointer(root: nestedRoot, memoryType: .writeBack)
    // I/O bitmaps A and B: one bit per port, all set: every port exits (SDM 3C §25.6.4).
    // MSR bitmap: read-low, read-high, write-low, write-high, 1 KiB each (§25.6.9).
    guard let io = PhysicalFrames.allocateZeroed(frames: 2),
      let msr = PhysicalFrames.allocateZeroed()
    else {
      return nil
    }
    ioBitmaps = io
    msrBitmap = msr
    IdentityMappedMemory().pointer(to: io).initializeMemory(
      as: UInt8.self, repeating: 0xFF, count: 2 * 4096)
    let map = IdentityMappedMemory().pointer(to: msr)
    map.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 4096)
    for index in Self.passthroughMSRs { Self.allow(index, in: map) }
    for vcpu in vm.vcpus {
      guard let vmcs = PhysicalFrames.allocateZeroed() else { return nil }
      IdentityMappedMemory().pointer(to: vmcs).storeBytes(
        of: processor.capabilities.revision, as: UInt32.self)
      vmcss.append(vmcs)
      guard let fast = ExitFastPath.allocate() else { return nil }
      fastPaths.append(fast)
      launched.append(false)
      residentCPU.append(-1)
      syscallMSRs.append([0, 0, 0, 0, 0])
      guard arch_vmclear(vmcs), arch_vmptrld(vmcs) else { return nil }
      initializeVMCS(vcpu: vcpu, processor: processor)
      // Written back and inactive: whichever CPU runs the vCPU loads it (`load`).
      _ = arch_vmclear(vmcs)
      cpu.currentVMCS = 0
    }
    // A recycled VPID or a reused EPT root may still have translations cached.
    if let type = processor.capabilities.preferredInveptType {
      _ = arch_invept(type.rawValue, eptPointer.value)
    }
    if processor.vpidEnabled, let type = processor.capabilities.preferredInvvpidType {
      _ = arch_invvpid(
        type == .individualAddress ? InvvpidType.allContexts.rawValue : type.rawValue, UInt16(vpid),
        0)
    }
  }

  static func allow(_ index: UInt32, in map: UnsafeMutableRawPointer) {
    let base: Int
    switch index {
    case 0..<0x2000: base = 0
    case 0xC000_0000..<0xC000_2000: base = 0x400
    default: return
    }
    let bit = Int(index & 0x1FFF)
    for half in [0, 0x800] {  // read bitmap, then write bitmap
      let byte = map.advanced(by: base + half + bit / 8)
      byte.storeBytes(of: byte.load(as: UInt8.self) & ~(UInt8(1) << UInt8(bit % 8)), as: UInt8.self)
    }
  }

  private func initializeVMCS(vcpu: VirtualCPU, processor: VMXProcessor) {
    let plan = processor.controls
    var pin = plan.pin.value
    let timer = PinBasedControl.preemptionTimer.rawValue
    if UInt32(truncatingIfNeeded: processor.capabilities.pinBasedCapability >> 32) & timer != 0 {
      pin |= timer
      preemptionTimer = true
    }
    VMCS.write(.pinBasedControls, UInt64(pin))
    VMCS.write(.primaryProcessorControls, UInt64(plan.primary.value))
    VMCS.write(.secondaryProcessorControls, UInt64(plan.secondary.value))
    VMCS.write(.exitControls, UInt64(plan.exit.value))
    VMCS.write(.entryControls, UInt64(plan.entry.value))
    // #MC belongs to the host (bit 18); every other exception is the guest's own.
    VMCS.write(.exceptionBitmap, 1 << 18)
    VMCS.write(.ioBitmapA, ioBitmaps)
    VMCS.write(.ioBitmapB, ioBitmaps + 4096)
    VMCS.write(.msrBitmap, msrBitmap)
    VMCS.write(.eptPointer, eptPointer.value)
    if processor.vpidEnabled { VMCS.write(.virtualProcessorID, UInt64(vpid)) }
    VMCS.write(.tscOffset, 0)
    VMCS.write(.cr3TargetCount, 0)
    VMCS.write(.vmcsLinkPointer, ~0)

    // CR0/CR4 bits the processor requires in VMX operation, and every bit the guest may
    // not set, belong to the host; the guest reads its own values from the shadows
    // (SDM 3C §25.6.6). PE and PG are the guest's under unrestricted guest.
    let caps = processor.capabilities
    VMCS.write(.cr0GuestHostMask, caps.cr0GuestHostMask)
    VMCS.write(.cr4GuestHostMask, caps.cr4GuestHostMask(for: vm.controlRegisterRules))
    VMCS.write(.cr0ReadShadow, 0x10)
    VMCS.write(.cr4ReadShadow, 0)

    VMXHostState.write()
    let start = vm.initialState
    let state = VMXGuestState.realMode(
      entrySegment: start.code.selector, entryOffset: UInt16(truncatingIfNeeded: start.rip),
      capabilities: caps)
    state.forEachField { field, value in VMCS.write(field, value) }
    if start.isProtectedMode { writeProtectedModeState(start, caps: caps) }
    vcpu.registers.rip = start.rip
    vcpu.registers.rsi = start.rsi
    vcpu.registers.rax = start.rax
    vcpu.registers.rbx = start.rbx
    vcpu.registers.rflags = start.rflags
    vcpu.registers.rsp = 0
  }

  /// A vCPU that starts in protected mode (a multiboot guest's 32-bit entry, with PG clear as
  /// unrestricted guest allows) or in 64-bit mode (the Linux boot protocol's entry): the
  /// loader's segments, paging registers and EFER over the real-mode defaults.
  private func writeProtectedModeState(_ start: InitialCPUState, caps: VMXCapabilities) {
    VMCS.write(.guestCSSelector, UInt64(start.code.selector))
    VMCS.write(.guestCSBase, start.code.base)
    VMCS.write(.guestCSLimit, UInt64(start.code.limit))
    VMCS.write(.guestCSAccessRights, UInt64(start.code.vmxAccessRights))
    let dataFields: [(VMCSField, VMCSField, VMCSField, VMCSField)] = [
      (.guestDSSelector, .guestDSBase, .guestDSLimit, .guestDSAccessRights),
      (.guestESSelector, .guestESBase, .guestESLimit, .guestESAccessRights),
      (.guestSSSelector, .guestSSBase, .guestSSLimit, .guestSSAccessRights),
      (.guestFSSelector, .guestFSBase, .guestFSLimit, .guestFSAccessRights),
      (.guestGSSelector, .guestGSBase, .guestGSLimit, .guestGSAccessRights),
    ]
    for (selector, base, limit, rights) in dataFields {
      VMCS.write(selector, UInt64(start.data.selector))
      VMCS.write(base, start.data.base)
      VMCS.write(limit, UInt64(start.data.limit))
      VMCS.write(rights, UInt64(start.data.vmxAccessRights))
    }
    VMCS.write(.guestGDTRBase, start.gdtBase)
    VMCS.write(.guestGDTRLimit, UInt64(start.gdtLimit))
    VMCS.write(.cr0ReadShadow, start.cr0)
    VMCS.write(.guestCR0, caps.fixingCR0(start.cr0, unrestrictedGuest: true))
    VMCS.write(.guestCR3, start.cr3)
    VMCS.write(.cr4ReadShadow, start.cr4)
    VMCS.write(.guestCR4, caps.fixingCR4(start.cr4))
    VMCS.write(.guestEFER, start.efer)
  }

  /// A start-up IPI ended the vCPU's wait (VCPURequests): its current VMCS takes the real-mode
  /// state at the vector (SDM 3A §9.4.3), with nothing left to inject.
  func loadStartupState(_ vcpu: VirtualCPU, capabilities: VMXCapabilities) {
    guard let start = vcpu.startupState else { return }
    vcpu.startupState = nil
    let state = VMXGuestState.realMode(
      entrySegment: start.code.selector, entryOffset: UInt16(truncatingIfNeeded: start.rip),
      capabilities: capabilities)
    state.forEachField { field, value in VMCS.write(field, value) }
    VMCS.write(.cr0ReadShadow, 0x10)
    VMCS.write(.cr4ReadShadow, 0)
    VMCS.write(.entryInterruptionInformation, 0)
    VMCS.write(.guestInterruptibility, 0)
    vcpu.registers.rip = start.rip
    vcpu.registers.rflags = start.rflags
    vcpu.registers.rsp = 0
  }

  /// Makes vCPU `index`'s VMCS current on `cpu` (the calling CPU). One that arrives from
  /// another CPU (cleared there by `detach`) gets this CPU's host state.
  func load(vcpu index: Int, on cpu: PhysicalCPU) -> Bool {
    let vmcs = vmcss[index]
    if residentCPU[index] == cpu.index {
      if cpu.currentVMCS != vmcs {
        guard arch_vmptrld(vmcs) else { return false }
        cpu.currentVMCS = vmcs
      }
      return true
    }
    guard residentCPU[index] == -1, arch_vmptrld(vmcs) else { return false }
    cpu.currentVMCS = vmcs
    residentCPU[index] = cpu.index
    VMXHostState.write()
    return true
  }

  /// vCPU `index` leaves `cpu` (the calling CPU): its VMCS is written back and made inactive
  /// (VMCLEAR), so the next VM entry anywhere is a VMLAUNCH, and this CPU's cached EPT and
  /// VPID translations of the VM are dropped, so none outlives the VM or its VPID.
  func detach(vcpu index: Int, from cpu: PhysicalCPU, processor: VMXProcessor) {
    guard residentCPU[index] == cpu.index else { return }
    let vmcs = vmcss[index]
    _ = arch_vmclear(vmcs)
    if cpu.currentVMCS == vmcs { cpu.currentVMCS = 0 }
    residentCPU[index] = -1
    launched[index] = false
    flushTranslations()
  }

  /// INVEPT of this VM's EPT and INVVPID of its VPID on the calling CPU (SDM 3C §29.4.3).
  func flushTranslations() {
    if let type = inveptType { _ = arch_invept(type.rawValue, eptPointer.value) }
    if vpidEnabled, let type = invvpidType {
      _ = arch_invvpid(
        type == .individualAddress ? InvvpidType.allContexts.rawValue : type.rawValue,
        UInt16(vpid), 0)
    }
  }

  /// Every vCPU was detached (each CPU that ran one flushed and cleared it there).
  func release() {
    for vmcs in vmcss {
      PhysicalFrames.free(vmcs)
    }
    for fast in fastPaths { ExitFastPath.free(fast) }
    PhysicalFrames.free(ioBitmaps, frames: 2)
    PhysicalFrames.free(msrBitmap)
  }
}

/// The host state a VM exit returns to (SDM 3C §25.5): this CPU's control registers,
/// descriptor tables, TSS and per-CPU block, and the world switch's landing point. Written
/// again whenever a VMCS comes to another CPU.
enum VMXHostState {
  static func write() {
    VMCS.write(.hostCR0, arch_read_cr0())
    VMCS.write(.hostCR3, arch_read_cr3())
    VMCS.write(.hostCR4, arch_read_cr4())
    VMCS.write(.hostCSSelector, UInt64(CPUDescriptorTables.codeSelector))
    for field in [VMCSField.hostSSSelector, .hostDSSelector, .hostESSelector] {
      VMCS.write(field, UInt64(CPUDescriptorTables.dataSelector))
    }
    VMCS.write(.hostFSSelector, 0)
    VMCS.write(.hostGSSelector, 0)
    let cpu = CPUs.current
    VMCS.write(.hostTRSelector, UInt64(CPUDescriptorTables.taskSelector))
    VMCS.write(.hostFSBase, 0)
    // GS base: this CPU's per-CPU block (CPULocal), as every exit must find it.
    VMCS.write(.hostGSBase, UInt64(UInt(bitPattern: cpu.localArea)))
    VMCS.write(.hostTRBase, cpu.descriptors.tssBase)
    VMCS.write(.hostGDTRBase, cpu.descriptors.gdtBase)
    VMCS.write(.hostIDTRBase, cpu.interrupts.base)
    VMCS.write(.hostSysenterCS, 0)
    VMCS.write(.hostSysenterESP, 0)
    VMCS.write(.hostSysenterEIP, 0)
    VMCS.write(.hostEFER, arch_rdmsr(0xC000_0080))
    VMCS.write(.hostPAT, arch_rdmsr(0x277))
    VMCS.write(.hostRIP, vmx_exit_landing_address())
  }
}
