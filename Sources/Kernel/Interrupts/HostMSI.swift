import HypervisorCore

/// The one place the node composes the MSI / MSI-X messages its devices send it
/// (docs/iommu.md "Interrupt remapping"): its NICs and passed-through functions.
enum HostMSI {
  /// The message for a fixed, edge-triggered `vector` to the local APIC `apicID` from
  /// `requester`: remappable, through a table entry that only `requester` may use, when the
  /// VT-d unit remaps interrupts (VT-d §5.1.5.2), or through an entry of `requester`'s own
  /// AMD-Vi table when the AMD-Vi IOMMU does (AMD IOMMU §2.2.5); compatibility format
  /// otherwise (SDM 3A §11.11). Nil when remapping is on but no entry could be had: the
  /// compatibility format would be blocked then, so the caller must poll or do without the
  /// interrupt.
  /// Drop-in for `MSIXCapability.message(vector:apicID:)` plus the requester.
  static func message(vector: UInt8, apicID: UInt8, requester: RequesterID) -> (
    address: UInt64, data: UInt32
  )? {
    if AMDVi.remapsInterrupts {
      // AMD-Vi: through the requester's own table (its DTE names it), data = the index.
      guard let index = AMDVi.remapInterrupt(vector: vector, apicID: apicID, requester: requester)
      else {
        Log.error("iommu: no AMD-Vi interrupt entry left; the device gets no interrupt")
        return nil
      }
      return AMDViMSIFormat.message(index: index)
    }
    guard IOMMU.remapsInterrupts else {
      return HostMSIFormat.compatibility(vector: vector, apicID: apicID)
    }
    guard let handle = IOMMU.remapInterrupt(vector: vector, apicID: apicID, requester: requester)
    else {
      Log.error("iommu: no interrupt remapping entry left; the device gets no interrupt")
      return nil
    }
    return HostMSIFormat.remappable(handle: handle)
  }

  /// The function was reset after its VM ended: its entries are freed.
  static func release(requester: RequesterID) {
    IOMMU.releaseInterrupts(requester: requester)
    AMDVi.releaseInterrupts(requester: requester)
  }
}
