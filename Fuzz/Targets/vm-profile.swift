// fuzz-modules: HypervisorCore
// The VM profile, the words on a guest module's command line (`vm name=... mem=...`), which
// GRUB passes through from grub.cfg.
//
// Checks, beyond not trapping: an accepted profile is within the documented limits, and
// writing it back out in canonical form (`VMProfile.canonicalLine`, every key) and parsing
// that gives the same profile (a parser that accepts a line but reads it differently from
// what it says fails here).
//
// Input: the module command line.
import HypervisorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let line = Array(UnsafeBufferPointer(start: data, count: size))
  guard case .success(let profile) = VMProfile.parse(line) else { return 0 }
  precondition(!profile.name.isEmpty && profile.name.count <= VMProfile.maximumNameLength)
  precondition(profile.memorySize >= 1 << 20 && profile.memorySize <= VMProfile.maximumMemory)
  precondition(profile.memorySize % 4096 == 0, "memory not in whole pages")
  precondition(profile.vcpuCount >= 1 && profile.vcpuCount <= VMProfile.maximumVCPUs)
  for imageSize: UInt64 in [0, 1, 0x1000, profile.memorySize, UInt64.max] {
    _ = profile.validate(imageSize: imageSize)
  }

  // The command line after " -- " is carried as is; a line that parsed with an empty one
  // (a trailing " -- ") reads back the same without it.
  switch VMProfile.parse(profile.canonicalLine) {
  case .success(let again):
    precondition(again == profile, "the canonical form of a profile reads differently")
  case .failure:
    preconditionFailure("the canonical form of an accepted profile is refused")
  }
  return 0
}
