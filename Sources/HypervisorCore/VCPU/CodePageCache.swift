/// The last guest code page the hypervisor read, so finding an exiting instruction's
/// length (SVM without NRIPS) does not walk the guest's page tables on every exit.
/// Keyed by the linear page and CR3 like a TLB entry: a CR3 load misses it. The guest's own
/// TLB obeys the same rule, so a mapping changed without a TLB flush is stale there too.
public struct CodePageCache {
  /// Linear page address; never matches while it has a bit below 4 KiB set.
  public var linearPage: UInt64 = 1
  public var addressSpace: UInt64 = 0
  public var hostPage: UInt64 = 0

  public init() {}

  public init(linearPage: UInt64, addressSpace: UInt64, hostPage: UInt64) {
    self.linearPage = linearPage
    self.addressSpace = addressSpace
    self.hostPage = hostPage
  }

  public mutating func invalidate() { linearPage = 1 }
}

/// Where the instruction at RIP is, in the terms CodePageCache keys on: its linear address
/// and the address space (CR3, or `unpaged` with paging off).
public struct InstructionFetchKey {
  public static let unpaged: UInt64 = ~0
  public var linear: UInt64
  public var addressSpace: UInt64

  public init(linear: UInt64, addressSpace: UInt64) {
    self.linear = linear
    self.addressSpace = addressSpace
  }
}
