/// Which application processors the bootstrap processor starts, decided from the MADT's
/// processor list and the kernel command line before any of them runs:
/// - `nosmp`: none, the hypervisor runs on the bootstrap processor alone;
/// - `maxcpus=N`: at most N CPUs online, the bootstrap processor included;
/// - `smp_test_fail=N`: a test hook, CPU number N is sent to a page that never answers;
/// - `smp_test_refuse=N`: a test hook, CPU number N starts but its backend "refuses".
public struct ProcessorStartPlan: Equatable, Sendable {
  /// Why a processor the MADT lists is not started.
  public enum SkipReason: Equatable, Sendable {
    /// MADT flags bit 0 clear (ACPI 6.4 §5.2.12.2): not usable now.
    case disabled
    /// The same APIC ID listed twice: only its first entry counts.
    case duplicate
    /// An x2APIC ID above 255: the xAPIC's 8-bit ICR destination cannot reach it
    /// (SDM 3A §11.6.1).
    case needsX2APIC
  }

  public struct Skipped: Equatable, Sendable {
    public var apicID: UInt32
    public var reason: SkipReason
  }

  /// APIC IDs to start, in MADT order, the bootstrap processor excluded.
  public var candidates: [UInt32]
  public var skipped: [Skipped]
  /// The most CPUs to have online, the bootstrap processor included.
  public var limit: Int
  /// `smp_test_fail=N`: the CPU that gets index N is started on a page that never answers.
  public var simulatedFailure: Int?
  /// `smp_test_refuse=N`: the CPU that gets index N reports that its backend failed.
  public var simulatedBackendFailure: Int?

  public init(processors: [ACPIProcessor], bootstrapAPICID: UInt32, commandLine: [UInt8]) {
    candidates = []
    skipped = []
    simulatedFailure = KernelCommandLine.value(of: "smp_test_fail", in: commandLine).flatMap(
      Self.decimal)
    simulatedBackendFailure = KernelCommandLine.value(of: "smp_test_refuse", in: commandLine)
      .flatMap(Self.decimal)
    if KernelCommandLine.contains(flag: "nosmp", in: commandLine) {
      limit = 1
    } else if let cap = KernelCommandLine.value(of: "maxcpus", in: commandLine).flatMap(
      Self.decimal)
    {
      limit = max(cap, 1)
    } else {
      limit = Int.max
    }
    var seen: [UInt32] = [bootstrapAPICID]
    for processor in processors {
      if processor.apicID == bootstrapAPICID { continue }
      if !processor.enabled {
        skipped.append(Skipped(apicID: processor.apicID, reason: .disabled))
      } else if seen.contains(processor.apicID) {
        skipped.append(Skipped(apicID: processor.apicID, reason: .duplicate))
      } else if processor.apicID > 0xFF {
        skipped.append(Skipped(apicID: processor.apicID, reason: .needsX2APIC))
      } else {
        candidates.append(processor.apicID)
        seen.append(processor.apicID)
      }
    }
  }

  static func decimal(_ digits: [UInt8]) -> Int? {
    guard !digits.isEmpty, digits.count <= 6 else { return nil }
    var value = 0
    for digit in digits {
      guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
      value = value * 10 + Int(digit - UInt8(ascii: "0"))
    }
    return value
  }
}
