/// Who uses each host CPU: the state placement decides against. CPUs are numbered as in
/// `CPUTopology`, VMs by their `VirtualMachine.id`.
public struct CPUAssignment: Equatable {
  /// The pinned VM owning each CPU, if any.
  public private(set) var pinnedOwner: [Int?]
  /// The gang VMs with a vCPU on each CPU (each at most once: gang vCPUs of one VM use
  /// distinct CPUs).
  public private(set) var gangVMs: [[Int]]
  /// The VM of each shared vCPU on each CPU (a VM appears once per vCPU there).
  public private(set) var sharedVCPUs: [[Int]]

  public init(cpuCount: Int) {
    pinnedOwner = Array(repeating: nil, count: cpuCount)
    gangVMs = Array(repeating: [], count: cpuCount)
    sharedVCPUs = Array(repeating: [], count: cpuCount)
  }

  public var cpuCount: Int { pinnedOwner.count }

  /// Shared vCPUs on `cpu`.
  public func sharedLoad(_ cpu: Int) -> Int { sharedVCPUs[cpu].count }

  /// Nothing runs on `cpu`, and nothing owns it.
  public func isIdle(_ cpu: Int) -> Bool {
    pinnedOwner[cpu] == nil && gangVMs[cpu].isEmpty && sharedVCPUs[cpu].isEmpty
  }

  /// Records a placement (the CPU of each vCPU) that `VCPUPlacement` returned.
  public mutating func assign(vm: Int, mode: SchedulingMode, cpus: [Int]) {
    for cpu in cpus where cpu >= 0 && cpu < cpuCount {
      switch mode {
      case .pinned: pinnedOwner[cpu] = vm
      case .gang: if !gangVMs[cpu].contains(vm) { gangVMs[cpu].append(vm) }
      case .shared: sharedVCPUs[cpu].append(vm)
      }
    }
  }

  /// A shared vCPU of `vm` moved from one CPU to another.
  public mutating func moveSharedVCPU(of vm: Int, from source: Int, to destination: Int) {
    guard let position = sharedVCPUs[source].firstIndex(of: vm) else { return }
    sharedVCPUs[source].remove(at: position)
    sharedVCPUs[destination].append(vm)
  }

  /// Forgets every CPU `vm` used (the VM stopped).
  public mutating func release(vm: Int) {
    for cpu in 0..<cpuCount {
      if pinnedOwner[cpu] == vm { pinnedOwner[cpu] = nil }
      gangVMs[cpu].removeAll { $0 == vm }
      sharedVCPUs[cpu].removeAll { $0 == vm }
    }
  }
}
