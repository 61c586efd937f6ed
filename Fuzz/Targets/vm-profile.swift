// fuzz-modules: HypervisorCore
// The VM profile, the words on a guest module's command line (`vm name=... mem=...`), which
// GRUB passes through from grub.cfg.
//
// Checks, beyond not trapping: an accepted profile is within the documented limits, and
// writing it back out in canonical form and parsing that gives the same profile (a parser
// that accepts a line but reads it differently from what it says fails here).
//
// Input: the module command line.
import HypervisorCore

func text(_ string: String) -> [UInt8] { Array(string.utf8) }

func hex(_ value: UInt64, digits: Int = 1) -> [UInt8] {
  var result: [UInt8] = []
  var rest = value
  repeat {
    result.insert(text("0123456789abcdef")[Int(rest & 15)], at: 0)
    rest >>= 4
  } while rest != 0
  while result.count < digits { result.insert(UInt8(ascii: "0"), at: 0) }
  return result
}

/// The profile as a line `VMProfile.parse` reads back, every key given.
func canonicalLine(_ profile: VMProfile) -> [UInt8] {
  var line = text("vm name=") + profile.name
  line += text(" mem=0x") + hex(profile.memorySize)
  line += text(" load=0x") + hex(profile.loadAddress)
  line +=
    text(" entry=") + hex(UInt64(profile.entrySegment), digits: 4) + text(":")
    + hex(UInt64(profile.entryOffset), digits: 4)
  line += text(" cpus=0x") + hex(UInt64(profile.vcpuCount))
  line += text(profile.unmapped == .stop ? " unmapped=stop" : " unmapped=ignore")
  line += text(profile.stormDetection ? " storm=on" : " storm=off")
  line += text(profile.kind == .flat ? " kind=flat" : " kind=linux")
  if !profile.diskImage.isEmpty { line += text(" disk=") + profile.diskImage }
  if !profile.guestCommandLine.isEmpty {
    line += text(" -- ") + profile.guestCommandLine
  }
  return line
}

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
  switch VMProfile.parse(canonicalLine(profile)) {
  case .success(let again):
    precondition(again == profile, "the canonical form of a profile reads differently")
  case .failure:
    preconditionFailure("the canonical form of an accepted profile is refused")
  }
  return 0
}
