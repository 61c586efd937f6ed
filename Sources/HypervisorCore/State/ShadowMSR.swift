/// One MSR the vCPU keeps for the guest outside any vendor state (`VirtualCPU.shadowMSRs`).
public struct ShadowMSR: Equatable {
  public var index: UInt32
  public var value: UInt64

  public init(index: UInt32, value: UInt64) {
    self.index = index
    self.value = value
  }
}
