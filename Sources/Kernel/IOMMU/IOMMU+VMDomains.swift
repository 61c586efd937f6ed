import HypervisorCore
import Memory

/// A VM's DMA domain as passthrough sees it, whichever vendor's unit made it.
struct IOMMUDomainSummary {
  let id: UInt16
  let tableFrames: Int
  /// How its devices are translated, for the console (`translation on`, `DTE mode 4`).
  let how: StaticString
}

/// The one vendor-neutral seam passthrough uses (docs/passthrough.md): the VT-d unit when the
/// firmware has a DMAR, else the AMD-Vi IOMMU when it has an IVRS (`IOMMU.start` picks one).
/// Release (`IOMMU.vmReleased`) and fault polling (`IOMMU.pollFaults`) already go to both.
extension IOMMU {
  /// A unit that can confine a device's DMA to a VM is running.
  static var confinesDMA: Bool { unit != nil || AMDVi.unit != nil }

  /// A domain over `memory` holding `devices`, built by whichever unit the node has; nil if
  /// it has none or the unit refused (already logged).
  /// `readOnly`: node pages the devices may read but not write, outside the VM's RAM.
  static func attachVM(
    vmName: [UInt8], memory: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)] = [],
    devices: [RequesterID]
  ) -> IOMMUDomainSummary? {
    if unit != nil {
      guard
        let domain = attach(
          vmName: vmName, memory: memory, readOnly: readOnly, devices: devices)
      else {
        return nil
      }
      return IOMMUDomainSummary(
        id: domain.id, tableFrames: domain.frames.recorded.count, how: "translation on")
    }
    if AMDVi.unit != nil {
      guard
        let domain = AMDVi.attach(
          vmName: vmName, memory: memory, readOnly: readOnly, devices: devices)
      else {
        return nil
      }
      return IOMMUDomainSummary(
        id: domain.id, tableFrames: domain.frames.recorded.count,
        how: "AMD-Vi DTE mode 4, translated")
    }
    return nil
  }
}
