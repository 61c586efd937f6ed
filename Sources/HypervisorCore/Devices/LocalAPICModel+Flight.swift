/// What the flight recorder's dump shows of a local APIC (docs/smp.md, "Flight recorder").
/// Read by the CPU that reports a stopped VM, maybe not the APIC's owner: a racy snapshot,
/// for diagnosis only.
extension LocalAPICModel {
  /// IRR word `index` (vectors 32 * index and up), 0-7.
  public func requestWord(_ index: Int) -> UInt32 { requests[index & 7] }

  /// ISR word `index` (vectors 32 * index and up), 0-7.
  public func inServiceWord(_ index: Int) -> UInt32 { inService[index & 7] }

  /// TPR as the guest reads it.
  public var taskPriorityRegister: UInt32 { taskPriority }
}
