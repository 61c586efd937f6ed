import HypervisorCore
import XCTest

/// A VirtualMachine whose RAM is a host allocation, with the standard devices, a recording
/// console and a fake guest state: everything a handler needs, on the host.
///
/// Guest RAM is two regions over one allocation, with guest-physical == offset into it:
/// [0, 0xA0000) and [0x10_0000, ramSize). The VGA-style hole between them is below the end
/// of RAM but not RAM, which is what `beyondMemory: false` is about.
final class TestMachine {
  static let holeStart: UInt64 = 0xA_0000
  static let holeEnd: UInt64 = 0x10_0000
  /// Long-mode page tables live here (inside the low region).
  static let pageTableRoot: UInt64 = 0x7_0000
  /// `enterLongMode` maps guest-linear 1 GiB to guest-physical 2 MiB with one 2 MiB page,
  /// so a fetch that ignored paging would read the wrong bytes.
  static let longModeCodeLinear: UInt64 = 0x4000_0000
  static let longModeCodePhysical: UInt64 = 0x20_0000

  let ram: UnsafeMutableRawPointer
  let ramSize: UInt64
  let vm: VirtualMachine
  let console = RecordingConsole()
  var guest = FakeGuestState()
  private(set) var released = false

  private static var nextID = 1

  init(
    name: String = "testvm", ramSize: UInt64 = 8 << 20, cpus: Int = 1,
    unmapped: VMProfile.UnmappedAccessPolicy = .stop, storm: Bool = true,
    standardDevices: Bool = true
  ) {
    precondition(ramSize > Self.holeEnd)
    self.ramSize = ramSize
    ram = .allocate(byteCount: Int(ramSize), alignment: 4096)
    ram.initializeMemory(as: UInt8.self, repeating: 0, count: Int(ramSize))
    var profile = VMProfile(name: Array(name.utf8))
    profile.memorySize = ramSize
    profile.vcpuCount = cpus
    profile.unmapped = unmapped
    profile.stormDetection = storm
    vm = VirtualMachine(id: Self.nextID, profile: profile)
    Self.nextID += 1
    let host = UInt64(UInt(bitPattern: ram))
    vm.memory.add(GuestMemoryRegion(guestPhysical: 0, hostAddress: host, size: Self.holeStart))
    vm.memory.add(
      GuestMemoryRegion(
        guestPhysical: Self.holeEnd, hostAddress: host + Self.holeEnd, size: ramSize - Self.holeEnd)
    )
    if standardDevices { vm.installStandardDevices(console: console) }
  }

  /// Frees the RAM; every test case calls it from tearDown (through MachineTestCase).
  func release() {
    guard !released else { return }
    released = true
    ram.deallocate()
  }

  var vcpu: VirtualCPU { vm.vcpus[0] }

  /// The TestMMIODevice the standard devices registered.
  var testDevice: TestMMIODevice? {
    vm.mmio.entry(for: TestMMIODevice.defaultBase)?.device as? TestMMIODevice
  }

  // MARK: Guest memory

  func write(
    _ bytes: [UInt8], at guestPhysical: UInt64, file: StaticString = #filePath, line: UInt = #line
  ) {
    let ok = bytes.withUnsafeBytes { vm.memory.write($0, to: guestPhysical) }
    XCTAssertTrue(
      ok, "test set-up: \(bytes.count) bytes at \(guestPhysical) are not RAM", file: file,
      line: line)
  }

  func writeU64(_ value: UInt64, at guestPhysical: UInt64) {
    write((0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)) }, at: guestPhysical)
  }

  func read(_ count: Int, at guestPhysical: UInt64) -> [UInt8]? {
    guard let pointer = vm.memory.pointer(to: guestPhysical, length: UInt64(count)) else {
      return nil
    }
    return (0..<count).map { pointer.load(fromByteOffset: $0, as: UInt8.self) }
  }

  func readU64(at guestPhysical: UInt64) -> UInt64? { vm.memory.read64(guestPhysical) }

  // MARK: Modes

  /// Real mode at CS:IP (linear CS × 16 + IP).
  func enterRealMode(cs: UInt16, ip: UInt16, on vcpu: VirtualCPU? = nil) {
    guest.guestMode = GuestMode(width: .real, codeSegmentBase: UInt64(cs) << 4, cr0: 0x10)
    (vcpu ?? self.vcpu).registers.rip = UInt64(ip)
  }

  /// 32-bit protected mode without paging, CS base `base`.
  func enterProtectedMode32(codeBase: UInt64 = 0, eip: UInt64, on vcpu: VirtualCPU? = nil) {
    guest.guestMode = GuestMode(width: .protected32, codeSegmentBase: codeBase, cr0: 0x11)
    (vcpu ?? self.vcpu).registers.rip = eip
  }

  /// 64-bit mode with 4-level paging: linear [0, 2 MiB) identity mapped, linear 1 GiB
  /// mapped to physical 2 MiB, and the 2 MiB page holding TestMMIODevice (0xFEC0_0000)
  /// mapped both at itself and at linear 1 GiB + 2 MiB (all 2 MiB pages). RIP is
  /// `longModeCodeLinear + offset`.
  func enterLongMode(ripOffset: UInt64 = 0x100, on vcpu: VirtualCPU? = nil) {
    let pml4 = Self.pageTableRoot
    let pdpt = pml4 + 0x1000
    let pdLow = pml4 + 0x2000
    let pdHigh = pml4 + 0x3000
    let pdDevice = pml4 + 0x4000
    let present: UInt64 = 0x3  // P | RW
    let largePage: UInt64 = 0x83  // P | RW | PS
    let devicePage: UInt64 = 0xFEC0_0000
    writeU64(pdpt | present, at: pml4)
    writeU64(pdLow | present, at: pdpt)
    writeU64(pdHigh | present, at: pdpt + 8)
    writeU64(pdDevice | present, at: pdpt + 3 * 8)
    writeU64(0 | largePage, at: pdLow)
    writeU64(Self.longModeCodePhysical | largePage, at: pdHigh)
    writeU64(devicePage | largePage, at: pdHigh + 8)
    writeU64(devicePage | largePage, at: pdDevice + ((devicePage >> 21) & 511) * 8)
    guest.guestMode = GuestMode(
      width: .long64, cr0: 0x8000_0011, cr3: pml4, cr4: 0x20, efer: 0xD00)
    (vcpu ?? self.vcpu).registers.rip = Self.longModeCodeLinear + ripOffset
  }

  /// Writes `bytes` where the vCPU's RIP points: CS base + IP, through the guest's page
  /// tables when paging is on.
  func placeInstruction(
    _ bytes: [UInt8], on vcpu: VirtualCPU? = nil, file: StaticString = #filePath, line: UInt = #line
  ) {
    let rip = (vcpu ?? self.vcpu).registers.rip
    let mode = guest.guestMode
    let linear = InstructionFetcher.linearInstructionPointer(rip: rip, mode: mode)
    guard let physical = InstructionFetcher.translate(linear, mode: mode, memory: vm.memory) else {
      XCTFail("test set-up: RIP \(rip) is not mapped", file: file, line: line)
      return
    }
    write(bytes, at: physical, file: file, line: line)
  }

  // MARK: Exits

  @discardableResult
  func dispatch(_ exit: VMExit, on vcpu: VirtualCPU? = nil) -> ExitOutcome {
    ExitDispatcher.dispatch(exit, vcpu: vcpu ?? self.vcpu, vm: vm, guest: &guest, console: console)
  }

  /// Dispatches an exit the way SVM without NRIPS reports it: no length, the instruction
  /// bytes at RIP.
  @discardableResult
  func dispatchDecoding(
    _ reason: ExitReason, instruction bytes: [UInt8], on vcpu: VirtualCPU? = nil
  ) -> ExitOutcome {
    placeInstruction(bytes, on: vcpu)
    return dispatch(VMExit(reason: reason, instructionLength: nil), on: vcpu)
  }
}

/// Creates machines for a test and frees their RAM in tearDown.
class MachineTestCase: XCTestCase {
  private var machines: [TestMachine] = []

  func makeMachine(
    name: String = "testvm", ramSize: UInt64 = 8 << 20, cpus: Int = 1,
    unmapped: VMProfile.UnmappedAccessPolicy = .stop, storm: Bool = true,
    standardDevices: Bool = true
  ) -> TestMachine {
    let machine = TestMachine(
      name: name, ramSize: ramSize, cpus: cpus, unmapped: unmapped, storm: storm,
      standardDevices: standardDevices)
    machines.append(machine)
    return machine
  }

  override func tearDown() {
    for machine in machines { machine.release() }
    machines.removeAll()
    super.tearDown()
  }
}

/// The value the hypercall ABI returns for a negative status.
func status(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }
