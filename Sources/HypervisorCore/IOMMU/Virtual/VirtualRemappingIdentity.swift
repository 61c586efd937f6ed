/// What a guest's virtual VT-d unit says it is (VT-d spec rev 4.1 §11.4.1-§11.4.3), as
/// QEMU's q35 `intel-iommu` (which kvm-unit-tests' intel_iommu test and Linux drive) at
/// its fixed address.
public enum VirtualRemappingIdentity {
  /// The q35 DMAR unit's register page (QEMU's Q35_HOST_BRIDGE_IOMMU_ADDR).
  public static let base: UInt64 = 0xFED9_0000
  public static let size: UInt64 = 0x1000

  /// VER: major 1, minor 0 (7:4, 3:0).
  public static let version: UInt32 = 0x10

  /// Fault recording registers at 0x220 (FRO = 0x22), one of them (NFR = 0).
  public static let faultRecordOffset = 0x220
  /// IVA_REG and IOTLB_REG at 0xF0 and 0xF8 (ECAP.IRO = 0xF).
  public static let iotlbOffset = 0xF0

  /// CAP (§11.4.2): ND = 2 (256 domains), CM (7) caching mode, so a guest must invalidate
  /// after making an entry present (§6.1); SAGAW (12:8) = 0b00110: 39-bit (3 levels) and
  /// 48-bit (4 levels); MGAW (21:16) = 47: 48-bit DMA addresses; FRO (33:24) = 0x22;
  /// SLLPS (37:34) = 0b0001: 2 MiB pages; NFR (47:40) = 0; DWD (54), DRD (55): drains
  /// accepted. No RWBF, AFL, PLMR/PHMR, PSI, ZLR, PI.
  public static let capability = RemappingCapability(
    2 | 1 << 7 | 0b00110 << 8 | 47 << 16 | UInt64(faultRecordOffset / 16) << 24 | 0b0001 << 34
      | 1 << 54 | 1 << 55)

  /// ECAP (§11.4.3): C (0) coherent walks (the walk reads guest RAM as the CPUs wrote it),
  /// QI (1), IR (3), PT (6) pass-through context entries, IRO (17:8) = 0xF, MHMV (23:20) =
  /// 0xF. No EIM (x2APIC destinations), DT, SC, nested or scalable mode.
  public static let extendedCapability = RemappingExtendedCapability(
    1 | 1 << 1 | 1 << 3 | 1 << 6 | UInt64(iotlbOffset / 16) << 8 | 0xF << 20)
}
