/// INIT and start-up IPIs on the receiving vCPU (SDM 3A §9.4.3 and §8.4 MP initialization,
/// §11.6.1 delivery modes 101b and 110b). Called by `VCPURequests.drain`, on the CPU that
/// runs the vCPU.
extension VirtualCPU {
  /// INIT: whatever the vCPU was doing, it waits for a start-up IPI. Pending events and NMI
  /// blocking are dropped and the local APIC is reset as by INIT (§11.4.7.3: all but its ID
  /// and IA32_APIC_BASE). A stopped vCPU (its VM ended, or HLT with interrupts disabled,
  /// which the hypervisor treats as final) stays stopped.
  func receiveINIT() {
    guard state != .stopped else { return }
    statistics.initSignalsTaken &+= 1
    state = .waitingForStartup
    pendingEvent = nil
    startupState = nil
    nmiBlocking = NMIBlocking()
    deferredEFER = 0
    localAPIC?.resetForINIT()
    paravirtualEOI.reset()
  }

  /// A start-up IPI: ignored unless the vCPU waits for one (§9.4.3: a second SIPI to a
  /// started processor does nothing). Otherwise it starts in real mode at vector:0000
  /// (CS.selector = vector << 8, CS.base = vector << 12, §9.1.4, §8.4.4), with its general
  /// registers cleared (x87/SSE state is not changed by INIT, Table 9-1).
  func receiveStartup(vector: UInt8) {
    guard state == .waitingForStartup else {
      statistics.startupIPIsIgnored &+= 1
      return
    }
    statistics.startupIPIsTaken &+= 1
    registers = GuestRegisters()
    startupState = .startup(vector: vector)
    state = .runnable
  }
}

extension VirtualMachine {
  /// Every vCPU but the first waits for INIT/SIPI, as application processors do after
  /// reset (§8.4.1): for Linux-style guests, and flat guests with `start=bsp`.
  public func holdApplicationProcessors() {
    for vcpu in vcpus.dropFirst() where vcpu.state != .stopped {
      vcpu.state = .waitingForStartup
    }
  }
}
