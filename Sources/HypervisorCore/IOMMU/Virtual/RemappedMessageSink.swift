/// One emulated function's MSIs through the VM's virtual VT-d unit (VT-d spec rev 4.1
/// §5.1.4): a remappable message goes where its IRTE says, after the source-id check against
/// the function's requester id; a compatibility one passes unchanged only while interrupt
/// remapping is off or CFIS is set; a blocked one delivers nothing (the unit records it).
public final class RemappedMessageSink: MessageSignaledInterruptSink {
  private let unit: VirtualRemappingUnit
  private let requester: RequesterID
  private let destination: any MessageSignaledInterruptSink

  public init(
    unit: VirtualRemappingUnit, requester: RequesterID,
    destination: any MessageSignaledInterruptSink
  ) {
    self.unit = unit
    self.requester = requester
    self.destination = destination
  }

  public func signal(address: UInt64, data: UInt32) {
    switch unit.remap(address: address, data: data, requester: requester) {
    case .unchanged: destination.signal(address: address, data: data)
    case .remapped(let target):
      let message = target.message
      destination.signal(address: message.address, data: message.data)
    case .blocked: break
    }
  }
}
