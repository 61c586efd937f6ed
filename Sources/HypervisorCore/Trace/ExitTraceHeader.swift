/// What a replay needs to rebuild the VM the trace came from: the backend, the VM-wide
/// policies the handlers consult, and the profile fields they read (docs/exit-trace.md).
public struct ExitTraceHeader: Equatable {
  public enum Backend: UInt8, Equatable {
    case amdV = 0
    case vtX = 1
  }

  public var backend: Backend
  public var msrVendor: CPUFeatures.Vendor
  public var controlRegisterRules: ControlRegisterRules
  public var name: [UInt8]
  public var memorySize: UInt64
  public var vcpuCount: UInt16
  public var unmapped: VMProfile.UnmappedAccessPolicy
  public var localAPIC: Bool
  public var kind: VMProfile.Kind
  /// Whether the VM has interrupt controllers (HLT with none stops it).
  public var hasInterruptSources = false
  /// The guest clock's rate, and what it read while the VM was built (RecordingClock):
  /// the replay's device models start from the same time.
  public var clockRate: UInt64 = 0
  public var clockAtBuild: UInt64 = 0

  public init(
    backend: Backend, msrVendor: CPUFeatures.Vendor, controlRegisterRules: ControlRegisterRules,
    profile: VMProfile
  ) {
    self.backend = backend
    self.msrVendor = msrVendor
    self.controlRegisterRules = controlRegisterRules
    name = profile.name
    memorySize = profile.memorySize
    vcpuCount = UInt16(truncatingIfNeeded: profile.vcpuCount)
    unmapped = profile.unmapped
    localAPIC = profile.localAPIC
    kind = profile.kind
  }

  /// The profile the fields describe (the rest of it has no bearing on handlers).
  public var profile: VMProfile {
    var profile = VMProfile(name: name)
    profile.memorySize = memorySize
    profile.vcpuCount = Int(vcpuCount)
    profile.unmapped = unmapped
    profile.localAPIC = localAPIC
    profile.kind = kind
    return profile
  }

  func encode(into writer: inout StateWriter) {
    writer.u8(backend.rawValue)
    switch msrVendor {
    case .other: writer.u8(0)
    case .intel: writer.u8(1)
    case .amd: writer.u8(2)
    }
    writer.u64(controlRegisterRules.allowedCR4)
    writer.u64(controlRegisterRules.allowedEFER)
    writer.u8(UInt8(truncatingIfNeeded: name.count))
    writer.raw(name)
    writer.u64(memorySize)
    writer.u16(vcpuCount)
    writer.bool(unmapped == .ignore)
    writer.bool(localAPIC)
    switch kind {
    case .flat: writer.u8(0)
    case .linux: writer.u8(1)
    case .multiboot: writer.u8(2)
    }
    writer.bool(hasInterruptSources)
    writer.u64(clockRate)
    writer.u64(clockAtBuild)
  }

  static func decode(_ reader: inout StateReader) throws(StateDecodingError) -> ExitTraceHeader {
    guard let backend = Backend(rawValue: try reader.u8()) else {
      throw .invalidValue(at: reader.position - 1)
    }
    let vendor: CPUFeatures.Vendor
    switch try reader.u8() {
    case 0: vendor = .other
    case 1: vendor = .intel
    case 2: vendor = .amd
    default: throw .invalidValue(at: reader.position - 1)
    }
    let cr4 = try reader.u64()
    let efer = try reader.u64()
    let nameLength = Int(try reader.u8())
    try reader.check(nameLength <= VMProfile.maximumNameLength, fieldSize: 1)
    var profile = VMProfile(name: try reader.raw(count: nameLength))
    profile.memorySize = try reader.u64()
    try reader.check(profile.memorySize <= VMProfile.maximumMemory, fieldSize: 8)
    let vcpus = try reader.u16()
    try reader.check(vcpus >= 1 && Int(vcpus) <= VMProfile.maximumVCPUs, fieldSize: 2)
    profile.vcpuCount = Int(vcpus)
    profile.unmapped = try reader.bool() ? .ignore : .stop
    profile.localAPIC = try reader.bool()
    switch try reader.u8() {
    case 0: profile.kind = .flat
    case 1: profile.kind = .linux
    case 2: profile.kind = .multiboot
    default: throw .invalidValue(at: reader.position - 1)
    }
    var header = ExitTraceHeader(
      backend: backend, msrVendor: vendor,
      controlRegisterRules: ControlRegisterRules(allowedCR4: cr4, allowedEFER: efer),
      profile: profile)
    header.hasInterruptSources = try reader.bool()
    header.clockRate = try reader.u64()
    header.clockAtBuild = try reader.u64()
    return header
  }
}
