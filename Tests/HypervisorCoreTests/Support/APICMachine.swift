import HypervisorCore

/// A VM of `vcpus` vCPUs, each with a software-enabled local APIC (ID = index, SVR 0x1FF)
/// on `clock` and kicked by `kicker` when given; with `othersHalted`, every vCPU but vCPU 0
/// halted, as after boot on a guest whose APs wait. The IPI, interrupt-delivery and
/// INIT-storm tests all start from it.
func apicMachine(
  vcpus: Int, clock: NanosecondClock, kicker: RecordingKicker? = nil, othersHalted: Bool = true,
  name: String = "ipi"
) -> VirtualMachine {
  var profile = VMProfile(name: Array(name.utf8))
  profile.vcpuCount = vcpus
  let vm = VirtualMachine(id: 0, profile: profile)
  for vcpu in vm.vcpus {
    let apic = LocalAPICModel(id: UInt8(vcpu.index), clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    vcpu.localAPIC = apic
    if let kicker { vcpu.kicker = kicker }
    if othersHalted && vcpu.index > 0 { vcpu.state = .halted }
  }
  return vm
}
