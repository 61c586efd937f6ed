/// The vCPU state at the kernel's 64-bit entry (Documentation/arch/x86/boot.rst, "64-bit Boot
/// Protocol"): long mode with paging, the boot GDT loaded, CS = __BOOT_CS, DS/ES/SS =
/// __BOOT_DS, interrupts disabled, RSI = boot_params. Other registers are zero.
public struct LinuxEntryState: Equatable, Sendable {
  /// CR0.PE (0), ET (4), NE (5), PG (31).
  public static let cr0Value: UInt64 = 1 << 0 | 1 << 4 | 1 << 5 | 1 << 31
  /// CR4.PAE (5), required for long mode.
  public static let cr4Value: UInt64 = 1 << 5
  /// EFER.LME (8) and LMA (10).
  public static let eferValue: UInt64 = 1 << 8 | 1 << 10
  /// Only the reserved bit 1; IF clear.
  public static let rflagsValue: UInt64 = 1 << 1

  public var rip: UInt64
  /// The zero page's address.
  public var rsi: UInt64
  public var rflags: UInt64
  public var cr0: UInt64
  /// The PML4 of `LinuxIdentityMap`.
  public var cr3: UInt64
  public var cr4: UInt64
  public var efer: UInt64
  public var gdtBase: UInt64
  public var gdtLimit: UInt16
  /// CS: __BOOT_CS, 64-bit code.
  public var code: LinuxSegment
  /// DS, ES and SS (FS and GS may take it too): __BOOT_DS.
  public var data: LinuxSegment

  /// The entry state for a guest laid out as `layout`, with the zero page, GDT and page
  /// tables at their `LinuxGuestLayout` addresses.
  public init(layout: LinuxGuestLayout) {
    rip = layout.entryPoint
    rsi = LinuxGuestLayout.bootParametersAddress
    rflags = Self.rflagsValue
    cr0 = Self.cr0Value
    cr3 = LinuxGuestLayout.pageTablesAddress
    cr4 = Self.cr4Value
    efer = Self.eferValue
    gdtBase = LinuxGuestLayout.gdtAddress
    gdtLimit = LinuxBootGDT.limit
    code = LinuxSegment(
      selector: LinuxBootGDT.codeSelector, descriptor: LinuxBootGDT.codeDescriptor)
    data = LinuxSegment(
      selector: LinuxBootGDT.dataSelector, descriptor: LinuxBootGDT.dataDescriptor)
  }
}
