/// The part of the architectural state the vCPU object holds on both vendors: the register
/// file and FXSAVE image the world switch uses, the event to inject, the activity state,
/// the shadow MSRs (the paravirtual EOI's among them), TSC_AUX, PKRU and PKRS. The backends' capture and apply call these
/// around their own fields.
extension VirtualCPU {
  /// Copies what the vCPU holds into `state`.
  public func captureHeldState(into state: inout VCPUArchitecturalState) {
    state.registers = registers
    let image = registerFile + Self.floatingPointOffset
    state.floatingPoint = (0..<VCPUArchitecturalState.floatingPointSize).map {
      image.load(fromByteOffset: $0, as: UInt8.self)
    }
    state.pendingEvent = pendingEvent
    state.activity = self.state
    state.shadowMSRs = shadowMSRs.map { ShadowMSR(index: $0.index, value: $0.value) }
    // The paravirtual EOI's MSR travels as one more shadow MSR (docs/vm-state.md).
    if paravirtualEOI.msrValue != 0 {
      state.shadowMSRs.append(
        ShadowMSR(index: ParavirtualEOI.msr, value: paravirtualEOI.savedValue))
    }
    state.timeStampCounterAuxiliary = timeStampCounterAuxiliary
    state.protectionKeyRights = protectionKeyRights
    state.supervisorProtectionKeyRights = supervisorProtectionKeyRights
  }

  /// Loads what the vCPU holds from `state`. A floating-point image of another size than
  /// 512 bytes leaves the vCPU's own (decoding refuses one).
  public func applyHeldState(_ state: VCPUArchitecturalState) {
    registers = state.registers
    if state.floatingPoint.count == VCPUArchitecturalState.floatingPointSize {
      let image = registerFile + Self.floatingPointOffset
      for (offset, byte) in state.floatingPoint.enumerated() {
        image.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
      }
    }
    pendingEvent = state.pendingEvent
    self.state = state.activity
    shadowMSRs = state.shadowMSRs.filter { $0.index != ParavirtualEOI.msr }.map {
      (index: $0.index, value: $0.value)
    }
    paravirtualEOI.reset()
    if let saved = state.shadowMSRs.last(where: { $0.index == ParavirtualEOI.msr }) {
      paravirtualEOI.restore(savedValue: saved.value)
    }
    // Loaded into the processor before the next entry (GuestAuxiliaryRegisters).
    setTimeStampCounterAuxiliary(state.timeStampCounterAuxiliary & 0xFFFF_FFFF)
    protectionKeyRights = state.protectionKeyRights
    supervisorProtectionKeyRights = state.supervisorProtectionKeyRights
    startupState = nil
    checkedInstructionLength = 0
  }
}
