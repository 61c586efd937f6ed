extension VMProfile {
  /// The profile as a module line that `parse` reads back as this profile, every key the
  /// module line has written out (passthrough functions have no key: only the control
  /// protocol sets them). Kept beside `parse` so that a new key is written where it is read;
  /// the vm-profile fuzz target and ProfileCanonicalLineTests check the round trip.
  public var canonicalLine: [UInt8] {
    var line = words("vm name=") + name
    line += words(" mem=0x") + Self.hex(memorySize)
    line += words(" load=0x") + Self.hex(loadAddress)
    line +=
      words(" entry=") + Self.hex(UInt64(entrySegment), digits: 4) + words(":")
      + Self.hex(UInt64(entryOffset), digits: 4)
    line += words(" cpus=0x") + Self.hex(UInt64(vcpuCount))
    line += words(unmapped == .stop ? " unmapped=stop" : " unmapped=ignore")
    line += words(stormDetection ? " storm=on" : " storm=off")
    switch kind {
    case .flat: line += words(" kind=flat")
    case .linux: line += words(" kind=linux")
    case .multiboot: line += words(" kind=multiboot")
    }
    line += words(localAPIC ? " apic=on" : " apic=off")
    line += words(startup == .allVCPUs ? " start=all" : " start=bsp")
    switch scheduling {
    case .shared: line += words(" sched=shared")
    case .pinned: line += words(" sched=pinned")
    case .gang: line += words(" sched=gang")
    }
    if let pinnedCPUs {
      line += words(" pin=")
      for (index, cpu) in pinnedCPUs.enumerated() {
        if index > 0 { line += words(",") }
        line += Self.decimal(cpu)
      }
    }
    if traceExits > 0 { line += words(" trace=") + Self.decimal(traceExits) }
    if !diskImage.isEmpty { line += words(" disk=") + diskImage }
    line += words(entropyDevice ? " rng=on" : " rng=off")
    if !nicMACs.isEmpty {
      line += words(" nic=")
      for (index, mac) in nicMACs.enumerated() {
        if index > 0 { line += words(",") }
        for (position, byte) in mac.enumerated() {
          if position > 0 { line += words(":") }
          line += Self.hex(UInt64(byte), digits: 2)
        }
      }
    }
    line += words(testDevice ? " testdev=on" : " testdev=off")
    line += words(virtualIOMMU ? " iommu=vtd" : " iommu=off")
    line += words(eduDevice ? " edu=on" : " edu=off")
    // A trailing " -- " with nothing after it parses as no command line.
    if !guestCommandLine.isEmpty { line += words(" -- ") + guestCommandLine }
    return line
  }

  private func words(_ text: String) -> [UInt8] { Array(text.utf8) }

  private static func hex(_ value: UInt64, digits: Int = 1) -> [UInt8] {
    var result: [UInt8] = []
    var rest = value
    repeat {
      let digit = UInt8(truncatingIfNeeded: rest & 15)
      result.insert(digit < 10 ? 0x30 + digit : 0x57 + digit, at: 0)
      rest >>= 4
    } while rest != 0
    while result.count < digits { result.insert(0x30, at: 0) }
    return result
  }

  private static func decimal(_ value: Int) -> [UInt8] {
    var result: [UInt8] = []
    var rest = value
    repeat {
      result.insert(0x30 + UInt8(truncatingIfNeeded: rest % 10), at: 0)
      rest /= 10
    } while rest != 0
    return result
  }
}
