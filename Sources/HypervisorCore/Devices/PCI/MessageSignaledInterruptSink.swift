/// Where a virtual PCI function sends its MSI and MSI-X messages (PCI Local Bus 3.0 §6.8):
/// the VM's interrupt path decodes the address and data as the local APICs would receive
/// them on x86 (SDM 3A §11.11: destination in address bits 19:12, vector and delivery mode
/// in the data) and posts the interrupt to the vCPU(s) named. May be called on any CPU.
public protocol MessageSignaledInterruptSink: AnyObject {
  func signal(address: UInt64, data: UInt32)
}
