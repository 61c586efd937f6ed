import HypervisorCore
import XCTest

/// `VMProfile.canonicalLine` reads back as the same profile: the vm-profile fuzz target's
/// round trip, on the integration cases' own module lines (the fuzz target's old writer knew
/// only the first keys and failed on every one of these) and on a profile with every key set.
final class VMProfileCanonicalLineTests: XCTestCase {
  static let integrationLines: [String] = [
    "vm name=flood-a cpus=2 sched=shared pin=0,0",
    "vm name=flood-b cpus=2 sched=shared pin=1,1",
    "vm name=gang-a cpus=4 sched=gang",
    "vm name=gang-b cpus=4 sched=gang",
    "vm name=gang-single sched=gang",
    "vm name=intruder cpus=1 sched=pinned pin=1",
    "vm name=ipi-nmi cpus=2 apic=on",
    "vm name=linux kind=linux mem=256M rng=on -- console=ttyS0 lspci=1 hwrng=32",
    "vm name=mbbad kind=multiboot mem=16M",
    "vm name=mbtest-v1 kind=multiboot mem=16M -- hello=world",
    "vm name=mbtest-v2 kind=multiboot mem=16M -- hello=world",
    "vm name=nodisk load=0x7c00 entry=0000:7c00 apic=on disk=nosuch.img",
    "vm name=noisy cpus=2 apic=on",
    "vm name=owner cpus=1 sched=pinned pin=1",
    "vm name=pci-config apic=on",
    "vm name=pingpong cpus=2 apic=on",
    "vm name=pinned sched=pinned",
    "vm name=pinned-barrier cpus=4 sched=pinned",
    "vm name=smp cpus=2 sched=shared pin=0,0",
    "vm name=startup cpus=3 apic=on start=bsp",
    "vm name=storm cpus=2 apic=on",
    "vm name=ticker mem=1M sched=pinned pin=1",
    "vm name=timer-flood apic=on",
    "vm name=toobig load=0x7c00 entry=0000:7c00 apic=on disk=big.img",
    "vm name=traced-cpuid trace=1000",
    "vm name=traced-pm trace=3000",
    "vm name=twice cpus=2 sched=pinned pin=1,1",
    "vm name=well-behaved sched=shared pin=0",
    "vm name=wide cpus=2 sched=pinned pin=0,7",
    "vm name=x2apic cpus=2 apic=on",
    "vm name=nics nic=52:54:00:12:34:56,02:00:00:00:00:0a",
    "vm name=intel_iommu kind=multiboot mem=128M cpus=4 testdev=on iommu=vtd edu=on",
  ]

  func testEveryIntegrationLineReadsBackTheSame() throws {
    for text in Self.integrationLines {
      guard case .success(let profile) = VMProfile.parse(Array(text.utf8)) else {
        XCTFail("refused: \(text)")
        continue
      }
      let canonical = profile.canonicalLine
      XCTAssertEqual(try VMProfile.parse(canonical).get(), profile, text)
      // The canonical line of the canonical line is itself.
      XCTAssertEqual(try VMProfile.parse(canonical).get().canonicalLine, canonical, text)
    }
  }

  func testAProfileWithEveryKeySetReadsBackTheSame() throws {
    var profile = VMProfile(name: Array("every-key".utf8))
    profile.memorySize = 96 << 20
    profile.loadAddress = 0x7C00
    profile.entrySegment = 0x07C0
    profile.entryOffset = 0x0010
    profile.vcpuCount = 3
    profile.unmapped = .ignore
    profile.stormDetection = false
    profile.kind = .multiboot
    profile.localAPIC = true
    profile.startup = .bootstrapOnly
    profile.scheduling = .pinned
    profile.pinnedCPUs = [0, 17, 4095]
    profile.traceExits = 100_000
    profile.diskImage = Array("disk.img".utf8)
    profile.entropyDevice = true
    profile.nicMACs = [[0x52, 0x54, 0, 0x12, 0x34, 0x56], [0x02, 0, 0, 0, 0, 0xAB]]
    profile.testDevice = true
    profile.virtualIOMMU = true
    profile.eduDevice = true
    profile.guestCommandLine = Array("console=ttyS0 -- x".utf8)
    let line = profile.canonicalLine
    XCTAssertEqual(try VMProfile.parse(line).get(), profile, String(decoding: line, as: UTF8.self))
  }

  func testTheDefaultsReadBackTheSame() throws {
    let profile = VMProfile(name: Array("plain".utf8))
    XCTAssertEqual(try VMProfile.parse(profile.canonicalLine).get(), profile)
    XCTAssertEqual(
      String(decoding: profile.canonicalLine, as: UTF8.self),
      "vm name=plain mem=0x1000000 load=0x1000 entry=0000:1000 cpus=0x1 unmapped=stop storm=on"
        + " kind=flat apic=off start=all sched=shared rng=off testdev=off iommu=off edu=off")
  }
}
