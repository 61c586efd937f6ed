/// Why a VM cannot be placed. The other VMs run regardless.
public enum PlacementRefusal: Error, Equatable {
  case noVCPUs
  /// pin= lists a different number of CPUs than the VM has vCPUs.
  case pinListLength(listed: Int, vcpus: Int)
  case noSuchCPU(Int)
  case cpuNamedTwice(Int)
  /// pin= names a CPU that a pinned VM owns.
  case cpuOwnedByPinnedVM(cpu: Int, vm: Int)
  /// sched=pinned with pin= naming a CPU that a gang VM's vCPU runs on.
  case cpuRunsGangVM(cpu: Int, vm: Int)
  /// sched=pinned with pin= naming a CPU that a shared vCPU of another VM runs on.
  case cpuRunsSharedVCPU(cpu: Int, vm: Int)
  /// sched=pinned: too few CPUs carry no other VM's vCPU (pinned, gang or shared).
  case notEnoughFreeCPUs(needed: Int, free: Int)
  /// sched=gang or shared: too few CPUs are free of pinned VMs.
  case notEnoughUnpinnedCPUs(needed: Int, unpinned: Int)

  public var message: StaticString {
    switch self {
    case .noVCPUs: return "the VM has no vCPUs"
    case .pinListLength: return "pin= must list one CPU per vCPU"
    case .noSuchCPU: return "pin= names a CPU that does not exist"
    case .cpuNamedTwice: return "pin= names a CPU twice"
    case .cpuOwnedByPinnedVM: return "pin= names a CPU a pinned VM already owns"
    case .cpuRunsGangVM: return "pin= names a CPU a gang VM runs on"
    case .cpuRunsSharedVCPU: return "pin= names a CPU another VM's shared vCPU runs on"
    case .notEnoughFreeCPUs: return "not enough CPUs are free of other VMs"
    case .notEnoughUnpinnedCPUs: return "not enough CPUs are free of pinned VMs"
    }
  }

  /// The refusal in words with its numbers, e.g. "needs 4 CPUs of its own but only 2 are
  /// free of other VMs" or "pin= names CPU 1, already owned by VM web".
  /// `vmName` turns a VM id into its profile name.
  public func describe(vmName: (Int) -> [UInt8]) -> [UInt8] {
    var text: [UInt8] = []
    func add(_ words: StaticString) {
      words.withUTF8Buffer { text += $0 }
    }
    // "<a><x><b><y><c>": the counts, pin= list lengths.
    func numbers(_ a: StaticString, _ x: Int, _ b: StaticString, _ y: Int, _ c: StaticString) {
      add(a)
      appendDecimalNumber(x, to: &text)
      add(b)
      appendDecimalNumber(y, to: &text)
      add(c)
    }
    // "pin= names CPU <cpu><words>", with "<vm name><after>" when another VM is in the way.
    func pinNames(_ cpu: Int, _ words: StaticString, vm: Int? = nil, _ after: StaticString = "") {
      add("pin= names CPU ")
      appendDecimalNumber(cpu, to: &text)
      add(words)
      if let vm { text += vmName(vm) }
      add(after)
    }
    switch self {
    case .noVCPUs: add("the VM has no vCPUs")
    case .pinListLength(let listed, let vcpus):
      numbers("pin= lists ", listed, " CPUs for ", vcpus, " vCPUs")
    case .noSuchCPU(let cpu): pinNames(cpu, ", which does not exist")
    case .cpuNamedTwice(let cpu): pinNames(cpu, " twice")
    case .cpuOwnedByPinnedVM(let cpu, let vm): pinNames(cpu, ", already owned by VM ", vm: vm)
    case .cpuRunsGangVM(let cpu, let vm): pinNames(cpu, ", which gang VM ", vm: vm, " runs on")
    case .cpuRunsSharedVCPU(let cpu, let vm):
      pinNames(cpu, ", where a shared vCPU of VM ", vm: vm, " runs")
    case .notEnoughFreeCPUs(let needed, let free):
      numbers("needs ", needed, " CPUs of its own but only ", free, " are free of other VMs")
    case .notEnoughUnpinnedCPUs(let needed, let unpinned):
      numbers("needs ", needed, " distinct CPUs but only ", unpinned, " are free of pinned VMs")
    }
    return text
  }
}
