/// What the paravirtual EOI (ParavirtualEOI) asks of the local APIC: which vector a guest's
/// next EOI retires, when that is certain before the guest runs, and that EOI itself.
extension LocalAPICModel {
  /// The vector the guest's next EOI retires, if the guest can retire only that one before
  /// its next exit, else nil. Two states qualify:
  /// - nothing requested and something in service: the highest in-service vector (SDM 3A
  ///   §11.8.5: an EOI retires the highest ISR bit), which nothing can displace while the
  ///   guest runs, since no other vector can be taken;
  /// - `offered` (SVM V_IRQ) is the only request and nothing is in service: the guest can
  ///   take `offered` and then retire it. An EOI written before it took it would retire
  ///   nothing on a real APIC; here it retires `offered` at the next exit instead (only a
  ///   guest that writes EOI with nothing in service sees the difference, and only in its own
  ///   APIC).
  /// An 8259 vector offered through LINT0, or a level-triggered I/O APIC entry awaiting an
  /// EOI anywhere in the VM, disqualifies: the EOI must reach the I/O APIC as it happens.
  public func paravirtualEOITarget(offered: UInt8?) -> UInt8? {
    guard softwareEnabled, offeredExternalVector == nil,
      endOfInterruptListener?.hasEntriesAwaitingEOI != true
    else { return nil }
    guard let offered else {
      return requests.allSatisfy({ $0 == 0 }) ? Self.highest(inService) : nil
    }
    guard inService.allSatisfy({ $0 == 0 }) else { return nil }
    for word in 0..<8 {
      let expected: UInt32 = word == Int(offered >> 5) ? 1 << UInt32(offered & 31) : 0
      if requests[word] != expected { return nil }
    }
    return offered
  }

  /// The EOI the guest made by clearing its flag: the highest in-service vector retires,
  /// broadcast to the I/O APIC under the VM's device lock, as an x2APIC EOI is (called
  /// between exits, with no lock held).
  public func paravirtualEndOfInterrupt() {
    guard endOfInterruptListener != nil, let devicesLock else {
      endOfInterrupt()
      return
    }
    devicesLock.lock()
    defer { devicesLock.unlock() }
    endOfInterrupt()
  }

}
