/// The 8259 pair's INTR through LINT0 (SDM 3A §11.5.1, MP spec §3.6.2.2 virtual wire mode):
/// the processor takes it when LINT0 is unmasked with delivery mode ExtINT, or when the
/// APIC is disabled (globally or by software; the 8259's output then reaches the processor
/// as it would without an APIC, as QEMU's `apic_accept_pic_intr` also lets it). The
/// vector comes from the 8259 at acknowledge (INTA), not from the APIC, and nothing enters
/// the APIC's IRR or ISR.
extension LocalAPICModel {
  static let lint0 = 3

  /// LINT0 passes the 8259's INTR now.
  var acceptsExternalInterrupt: Bool {
    guard softwareEnabled else { return true }
    return localVectorTable[Self.lint0] & 0x1_0700 == 0x700
  }

  /// The vector the 8259 pair would give at INTA now, if it requests and LINT0 passes it.
  /// APIC requests go first: they are peeked before this (`pendingVector`).
  /// Takes the VM's device lock (`devicesLock`): never call with it held.
  public var pendingExternalVector: UInt8? {
    guard let pic = externalInterrupts, acceptsExternalInterrupt else { return nil }
    devicesLock?.lock()
    defer { devicesLock?.unlock() }
    return pic.interruptRequested ? pic.pendingVector : nil
  }

  /// INTA: the 8259 pair's vector, its request moved to in service. The check and the
  /// acknowledge are one step under the device lock: a device exit on another vCPU's CPU
  /// (a mask or EOI written to the 8259) cannot come between them.
  public func acknowledgeExternal() -> UInt8? {
    guard let pic = externalInterrupts, acceptsExternalInterrupt else { return nil }
    devicesLock?.lock()
    defer { devicesLock?.unlock() }
    guard pic.interruptRequested, pic.pendingVector != nil else { return nil }
    return pic.acknowledge()
  }

  /// What to offer the processor (SVM V_IRQ): the APIC's vector, else the 8259's.
  public func vectorToOffer() -> UInt8? {
    if let vector = pendingVector {
      offeredExternalVector = nil
      return vector
    }
    offeredExternalVector = pendingExternalVector
    return offeredExternalVector
  }

  /// The processor took the offered `vector`: an INTA for the 8259 pair's, §11.8.4 for the
  /// APIC's.
  public func offeredVectorTaken(_ vector: UInt8) {
    if offeredExternalVector == vector {
      offeredExternalVector = nil
      devicesLock?.lock()
      defer { devicesLock?.unlock() }
      _ = externalInterrupts?.acknowledge()
    } else {
      acknowledge(vector)
    }
  }

  /// Something to deliver: an APIC vector or the 8259's INTR.
  public var hasDeliverableInterrupt: Bool { pendingVector != nil || pendingExternalVector != nil }
}
