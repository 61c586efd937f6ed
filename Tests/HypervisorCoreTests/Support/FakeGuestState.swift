import HypervisorCore

/// A `GuestStateAccess` for handler tests: the mode, privilege level, vendor-held MSRs,
/// host CPUID answers and TSC are plain values the test sets. MSRs and CPUID are arrays
/// searched linearly (no dictionaries), like the vendor state they stand in for.
struct FakeGuestState: GuestStateAccess {
  var guestMode = GuestMode(width: .real)
  var cpl: UInt8 = 0
  /// The MSRs "the vendor" holds; anything else is not held (read nil, write false).
  var vendorMSRs: [(index: UInt32, value: UInt64)] = FakeGuestState.standardVendorMSRs
  /// Host CPUID answers by leaf; a missing leaf reads as zeros.
  var cpuidTable: [(leaf: UInt32, value: CPUIDLeaf)] = FakeGuestState.standardCPUID
  /// The host TSC; the guest's is this plus `tscOffset`.
  var timeStampCounter: UInt64 = 0x1234_5678_9ABC_DEF0
  var tscOffset: UInt64 = 0
  /// The guest's CR2 as setFaultAddress left it; nil until a #PF was injected.
  var faultAddress: UInt64?
  /// Every writeStateMSR call, accepted or not, in order.
  var msrWriteLog: [(index: UInt32, value: UInt64)] = []
  /// Every hostCPUID question (leaf, subleaf), in order. A class so that the non-mutating
  /// protocol method can record into it.
  let queryLog = QueryLog()

  final class QueryLog {
    var cpuid: [(leaf: UInt32, subleaf: UInt32)] = []
  }

  /// The MSRs MSRPolicy routes to the vendor state, with recognisable values.
  static let standardVendorMSRs: [(index: UInt32, value: UInt64)] = [
    (0xC000_0080, 0x0000_0D01),  // EFER: SCE, LME, LMA, NXE
    (0x277, 0x0007_0406_0007_0406),  // PAT power-on value
    (0xC000_0081, 0x0023_0010_0000_0000),  // STAR
    (0xC000_0082, 0xFFFF_8000_0010_0000),  // LSTAR
    (0xC000_0083, 0),  // CSTAR
    (0xC000_0084, 0x4_7700),  // SFMASK
    (0xC000_0100, 0),  // FS.base
    (0xC000_0101, 0),  // GS.base
    (0xC000_0102, 0),  // KernelGSbase
    (0x174, 0x10),  // SYSENTER_CS
    (0x175, 0),  // SYSENTER_ESP
    (0x176, 0),  // SYSENTER_EIP
  ]

  /// A plausible AMD host: SVM and XSAVE present, VMX bit set too so that clearing it shows.
  static let standardCPUID: [(leaf: UInt32, value: CPUIDLeaf)] = [
    (0x0, CPUIDLeaf(eax: 0x10, ebx: 0x6874_7541, ecx: 0x444D_4163, edx: 0x6974_6E65)),
    // EBX[31:24] host APIC ID 0x07, EBX[23:0] 0x0A0800; ECX with VMX (5), XSAVE (26),
    // OSXSAVE (27), bit 0 (SSE3); hypervisor bit (31) clear.
    (0x1, CPUIDLeaf(eax: 0x00A2_0F12, ebx: 0x070A_0800, ecx: 0x0C00_0021, edx: 0x178B_FBFF)),
    (0xD, CPUIDLeaf(eax: 0x7, ebx: 0x340, ecx: 0x988, edx: 0)),
    (
      0x4000_0000, CPUIDLeaf(eax: 0x4000_000C, ebx: 0x1111_1111, ecx: 0x2222_2222, edx: 0x3333_3333)
    ),
    (
      0x4000_0001, CPUIDLeaf(eax: 0xAAAA_AAAA, ebx: 0xBBBB_BBBB, ecx: 0xCCCC_CCCC, edx: 0xDDDD_DDDD)
    ),
    (0x8000_0000, CPUIDLeaf(eax: 0x8000_0021)),
    // ECX bit 2 SVM, bit 0 LAHF; EDX bit 29 LM.
    (0x8000_0001, CPUIDLeaf(eax: 0x00A2_0F12, ebx: 0, ecx: 0x75C2_37FF, edx: 0x2FD3_FBFF)),
    (0x8000_000A, CPUIDLeaf(eax: 1, ebx: 0x8000, ecx: 0, edx: 0x1EBF_BCFF)),
  ]

  init(mode: GuestMode = GuestMode(width: .real), cpl: UInt8 = 0) {
    self.guestMode = mode
    self.cpl = cpl
  }

  func mode() -> GuestMode { guestMode }

  /// As a VMCB or VMCS backend computes it: CS base + RIP, in the address space of CR3 when
  /// paging is on.
  func instructionFetchKey(rip: UInt64) -> InstructionFetchKey {
    InstructionFetchKey(
      linear: InstructionFetcher.linearInstructionPointer(rip: rip, mode: guestMode),
      addressSpace: guestMode.pagingEnabled ? guestMode.cr3 : InstructionFetchKey.unpaged)
  }

  var privilegeLevel: UInt8 { cpl }

  func readStateMSR(_ index: UInt32) -> UInt64? {
    for entry in vendorMSRs where entry.index == index { return entry.value }
    return nil
  }

  mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool {
    msrWriteLog.append((index, value))
    guard let slot = vendorMSRs.firstIndex(where: { $0.index == index }) else { return false }
    vendorMSRs[slot].value = value
    return true
  }

  func readControlRegister(_ number: UInt8) -> UInt64 {
    switch number {
    case 0: return guestMode.cr0
    case 3: return guestMode.cr3
    case 4: return guestMode.cr4
    default: return 0
    }
  }

  /// Like the processor: PG without PE is refused.
  mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool {
    switch number {
    case 0:
      if value & (1 << 31) != 0 && value & 1 == 0 { return false }
      guestMode.cr0 = value
    case 3: guestMode.cr3 = value
    case 4: guestMode.cr4 = value
    default: return false
    }
    return true
  }

  /// As VT-x with EPT: the PDPTEs live in the guest state. Tests of an SVM-like backend
  /// clear it.
  var holdsPAEPointers = true
  /// Every loadPAEPointers call, in order.
  var paePointerLoads: [PAEDirectoryPointers] = []

  mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers) {
    paePointerLoads.append(pointers)
  }

  func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    queryLog.cpuid.append((leaf, subleaf))
    for entry in cpuidTable where entry.leaf == leaf { return entry.value }
    return CPUIDLeaf()
  }

  func guestTimeStampCounter() -> UInt64 { timeStampCounter &+ tscOffset }

  var timeStampCounterOffset: UInt64 { tscOffset }

  mutating func setGuestTimeStampCounter(_ value: UInt64) { tscOffset = value &- timeStampCounter }

  mutating func setFaultAddress(_ linear: UInt64) { faultAddress = linear }
}
