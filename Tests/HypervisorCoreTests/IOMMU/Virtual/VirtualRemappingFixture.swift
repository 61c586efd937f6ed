import HypervisorCore
import XCTest

/// 4 MiB of guest RAM at guest-physical 0 for the virtual VT-d tests, with helpers that lay
/// out root, context, second-level and interrupt-remapping tables as a guest driver would
/// (VT-d spec rev 4.1 §9.1, §9.3, §9.8, §9.10).
final class VirtualRemappingFixture {
  static let size = 4 << 20
  let ram: UnsafeMutableRawPointer
  let memory: GuestMemoryMap
  /// Where the next table page goes (from 1 MiB up).
  private var nextPage: UInt64 = 0x10_0000

  init() {
    ram = .allocate(byteCount: Self.size, alignment: 4096)
    memory = TestGuestRAM.map(ram, size: Self.size)
  }

  deinit { ram.deallocate() }

  func page() -> UInt64 {
    defer { nextPage += 0x1000 }
    return nextPage
  }

  func store64(_ value: UInt64, at address: UInt64) {
    ram.storeBytes(of: value, toByteOffset: Int(address), as: UInt64.self)
  }

  func load64(_ address: UInt64) -> UInt64 {
    ram.load(fromByteOffset: Int(address), as: UInt64.self)
  }

  func load32(_ address: UInt64) -> UInt32 {
    ram.load(fromByteOffset: Int(address), as: UInt32.self)
  }

  /// A root table whose bus-0 entry points at a context table with `device`'s entry: TT,
  /// AW and FPD as given, SLPTPTR a fresh top table. Returns (root, top table).
  func rootAndContext(
    for requester: RequesterID, translationType: UInt64 = 0, addressWidth: UInt64 = 1,
    faultsDisabled: Bool = false
  ) -> (root: UInt64, top: UInt64) {
    let root = page()
    let context = page()
    let top = page()
    store64(context | 1, at: root + UInt64(requester.bus) * 16)
    let slot = context + UInt64(requester.devfn) * 16
    store64(top | translationType << 2 | (faultsDisabled ? 2 : 0) | 1, at: slot)
    store64(addressWidth | UInt64(requester.sourceID) << 8, at: slot + 8)
    return (root, top)
  }

  /// Maps the 4 KiB page at `iova` to `physical` with `rights` (bit 0 read, bit 1 write)
  /// under `top`, `levels` deep, making the tables on the way (read and write).
  func map(iova: UInt64, to physical: UInt64, rights: UInt64 = 3, top: UInt64, levels: Int = 3) {
    var table = top
    for level in stride(from: levels, to: 1, by: -1) {
      let slot = table + (iova >> UInt64(12 + 9 * (level - 1)) & 0x1FF) * 8
      if load64(slot) & 3 == 0 { store64(page() | 3, at: slot) }
      table = load64(slot) & ~0xFFF
    }
    store64(physical | rights, at: table + (iova >> 12 & 0x1FF) * 8)
  }

  /// Maps the 2 MiB page at `iova` to `physical` with a PS entry at level 2 (3 levels).
  func map2M(iova: UInt64, to physical: UInt64, top: UInt64) {
    let slot = top + (iova >> 30 & 0x1FF) * 8
    if load64(slot) & 3 == 0 { store64(page() | 3, at: slot) }
    let directory = load64(slot) & ~0xFFF
    store64(physical | 1 << 7 | 3, at: directory + (iova >> 21 & 0x1FF) * 8)
  }
}

/// Messages a unit or device sent, in order.
final class RecordingMessages: MessageSignaledInterruptSink {
  var messages: [(address: UInt64, data: UInt32)] = []
  func signal(address: UInt64, data: UInt32) { messages.append((address, data)) }
}

/// Faults a unit reported.
final class RecordingFaultReporter: VirtualRemappingFaultReporter {
  var faults: [(fault: RemappingFault, code: UInt8)] = []
  func report(_ fault: RemappingFault, code: UInt8) { faults.append((fault, code)) }
}
