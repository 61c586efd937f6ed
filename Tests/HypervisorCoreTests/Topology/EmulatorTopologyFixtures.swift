@testable import HypervisorCore

/// What the two emulators the tests run in report, captured on their boot CPU by a boot
/// sector that executes CPUID for each (leaf, subleaf) below and prints the registers
/// (2026-12-02, on this project's machines). The other CPUs' rows differ only in the APIC ID
/// fields (leaf 1 EBX[31:24], leaf 0xB EDX), which `machine(_:apicIDs:)` fills in: those
/// are derived, not recorded. Rows for leaves above the reported maximum hold whatever the
/// emulator returned; `CPUIDSnapshot.capture` does not read them.
enum EmulatorTopologyFixtures {
  typealias Row = (
    leaf: UInt32, subleaf: UInt32, eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32
  )

  /// QEMU 7.2.22 (Debian), TCG, `-cpu EPYC -smp 4`: one package of 4 cores, one thread
  /// each (leaf 0xB: SMT shift 0, core shift 2). TCG drops TopologyExtensions
  /// (Fn8000_0001_ECX[22]), so Fn8000_001D/1E are not to be used, and leaf 4 is all zeros.
  static let qemuEPYC: [Row] = [
    (0x0, 0, 0x0000_000D, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
    (0x1, 0, 0x0080_0F12, 0x0004_0800, 0xF6D8_320B, 0x178B_FBFD),
    (0x4, 0, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x4, 1, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x4, 2, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x4, 3, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x4, 4, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0xB, 0, 0x0000_0000, 0x0000_0001, 0x0000_0100, 0x0000_0000),
    (0xB, 1, 0x0000_0002, 0x0000_0004, 0x0000_0201, 0x0000_0000),
    (0xB, 2, 0x0000_0000, 0x0000_0000, 0x0000_0002, 0x0000_0000),
    (0x1F, 0, 0x0000_0007, 0x0000_0240, 0x0000_0340, 0x0000_0000),
    (0x1F, 1, 0x0000_0005, 0x0000_0340, 0x0000_0000, 0x0000_0000),
    (0x1F, 2, 0x0000_0100, 0x0000_0240, 0x0000_0000, 0x0000_0000),
    (0x8000_0000, 0, 0x8000_001E, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
    (0x8000_0001, 0, 0x0080_0F12, 0x0000_0000, 0x0000_0077, 0x2DD3_FBFD),
    (0x8000_0008, 0, 0x0000_3028, 0x0000_0000, 0x0000_2003, 0x0000_0000),
    (0x8000_001D, 0, 0x0000_0121, 0x01C0_003F, 0x0000_003F, 0x0000_0001),
    (0x8000_001D, 1, 0x0000_0122, 0x00C0_003F, 0x0000_00FF, 0x0000_0001),
    (0x8000_001D, 2, 0x0000_0043, 0x01C0_003F, 0x0000_03FF, 0x0000_0000),
    (0x8000_001D, 3, 0x0000_C163, 0x03C0_003F, 0x0000_1FFF, 0x0000_0006),
    (0x8000_001D, 4, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x8000_001E, 0, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
  ]

  /// Bochs 2.7 (Debian), `cpu: model=corei7_skylake_x, count=2`: two packages of one core.
  /// Leaf 0xB reports no level type (ECX[15:8] = 0, invalid per the SDM), so the layout
  /// comes from leaf 1 EBX[23:16] = 1 logical ID per package. Bochs's UART was left at 5
  /// data bits by this capture; the text was decoded back from the low 5 bits.
  static let bochsSkylakeX: [Row] = [
    (0x0, 0, 0x0000_0016, 0x756E_6547, 0x6C65_746E, 0x4965_6E69),
    (0x1, 0, 0x0005_0654, 0x0001_0800, 0x77FA_F3BF, 0xBFEB_FBFF),
    (0x4, 0, 0x1C00_4121, 0x01C0_003F, 0x0000_003F, 0x0000_0000),
    (0x4, 1, 0x1C00_4122, 0x01C0_003F, 0x0000_003F, 0x0000_0000),
    (0x4, 2, 0x1C00_4143, 0x03C0_003F, 0x0000_03FF, 0x0000_0000),
    (0x4, 3, 0x1C03_C163, 0x0280_003F, 0x0000_2FFF, 0x0000_0004),
    (0x4, 4, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0xB, 0, 0x0000_0001, 0x0000_0002, 0x0000_0000, 0x0000_0000),
    (0xB, 1, 0x0000_0000, 0x0000_0000, 0x0000_0001, 0x0000_0000),
    (0xB, 2, 0x0000_0000, 0x0000_0000, 0x0000_0002, 0x0000_0000),
    (0x1F, 0, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x1F, 1, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x1F, 2, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x8000_0000, 0, 0x8000_0008, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x8000_0001, 0, 0x0000_0000, 0x0000_0000, 0x0000_0121, 0x2C10_0000),
    (0x8000_0008, 0, 0x0000_3028, 0x0000_0000, 0x0000_0000, 0x0000_0000),
    (0x8000_001D, 0, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x8000_001D, 1, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x8000_001D, 2, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x8000_001D, 3, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x8000_001D, 4, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
    (0x8000_001E, 0, 0x0000_0DAC, 0x0000_0FA0, 0x0000_0064, 0x0000_0000),
  ]

  /// The machine: `rows` answered by every CPU, with each CPU's APIC ID in leaf 1 EBX[31:24]
  /// and leaf 0xB EDX; the MADT lists `apicIDs`.
  static func machine(_ rows: [Row], apicIDs: [UInt32]) -> TopologyFixtures.Machine {
    let snapshots = apicIDs.map { apicID in
      CPUIDSnapshot.capture { leaf, subleaf in
        guard let row = rows.first(where: { $0.leaf == leaf && $0.subleaf == subleaf }) else {
          return CPUIDLeaf()
        }
        var value = CPUIDLeaf(eax: row.eax, ebx: row.ebx, ecx: row.ecx, edx: row.edx)
        if leaf == 1 { value.ebx = value.ebx & 0x00FF_FFFF | (apicID & 0xFF) << 24 }
        if leaf == 0xB { value.edx = apicID }
        return value
      }
    }
    return TopologyFixtures.Machine(apicIDs: apicIDs, snapshots: snapshots)
  }
}
