import BootProtocols
import CArch
import HypervisorCore
import SVM

/// SVM on this processor (APM Vol 2 §15.4): refused when the firmware disabled it
/// (VM_CR.SVMDIS), then EFER.SVME set and a host save area registered. Holds what every
/// vCPU that runs on this CPU shares: the host's save areas and this CPU's ASIDs.
final class SVMProcessor {
  static let vmCR: UInt32 = 0xC001_0114
  static let hostSaveAreaMSR: UInt32 = 0xC001_0117
  static let efer: UInt32 = 0xC000_0080

  enum EnableError: Error {
    case disabledByFirmware
    case outOfMemory
    case noGuestASIDs

    var message: StaticString {
      switch self {
      case .disabledByFirmware:
        return "SVM is disabled by the firmware (VM_CR.SVMDIS is set): enable SVM in the BIOS setup"
      case .outOfMemory: return "no memory for the SVM host save area"
      case .noGuestASIDs: return "SVM reports no ASID for guests (CPUID 0x8000000A EBX < 2)"
      }
    }
  }

  let features: SVMFeatures
  let hostSaveArea: UInt64
  /// The host's VMSAVE/VMLOAD area around each VMRUN.
  let hostVMCB: UInt64
  /// This CPU's ASIDs, recycled by generation (ASIDAllocator): each CPU has its own
  /// SVMProcessor and allocator, numbered by its CPU index.
  var asids: ASIDAllocator

  private init(
    features: SVMFeatures, hostSaveArea: UInt64, hostVMCB: UInt64, asids: ASIDAllocator
  ) {
    self.features = features
    self.hostSaveArea = hostSaveArea
    self.hostVMCB = hostVMCB
    self.asids = asids
  }

  /// `svm_asids=N` on the kernel command line uses only ASIDs 0 ..< N (N >= 2, at most
  /// what CPUID reports): a test can make generations roll over with a few VMs.
  /// `processor` is the calling CPU's number (CPUs.currentIndex): each CPU enables SVM for
  /// itself and gets its own save areas and ASIDs.
  static func enable(features: SVMFeatures, commandLine: [UInt8] = [], processor: Int = 0)
    -> Result<SVMProcessor, EnableError>
  {
    // VM_CR bit 4 SVMDIS: EFER.SVME cannot be set (APM §15.30.1).
    if arch_rdmsr(vmCR) & (1 << 4) != 0 { return .failure(.disabledByFirmware) }
    var asidCount = features.asidCount
    if let cap = KernelCommandLine.value(of: "svm_asids", in: commandLine).flatMap(decimal),
      cap < asidCount
    {
      asidCount = cap
      if processor == 0 && Log.begin(.info) {
        Console.write("svm: ASIDs limited to ")
        Console.write(decimal: UInt64(cap))
        Console.write(" by svm_asids")
        Log.end()
      }
    }
    guard let asids = ASIDAllocator(processor: processor, asidCount: asidCount) else {
      return .failure(.noGuestASIDs)
    }
    arch_wrmsr(efer, arch_rdmsr(efer) | 1 << 12)
    guard let save = PhysicalFrames.allocateZeroed(), let host = PhysicalFrames.allocateZeroed()
    else {
      return .failure(.outOfMemory)
    }
    arch_wrmsr(hostSaveAreaMSR, save)
    return .success(
      SVMProcessor(features: features, hostSaveArea: save, hostVMCB: host, asids: asids))
  }

  private static func decimal(_ digits: [UInt8]) -> UInt32? {
    guard !digits.isEmpty, digits.count <= 9 else { return nil }
    var value: UInt32 = 0
    for digit in digits {
      guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
      value = value * 10 + UInt32(digit - UInt8(ascii: "0"))
    }
    return value
  }
}
