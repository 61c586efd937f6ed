import Synchronization

/// One MSI-X table entry (PCI Local Bus 3.0 §6.8.2.6-9) and its pending bit. Each field is
/// atomic because a NIC's receive side signals its queue's vector from another CPU while the
/// guest may reprogram the table under the VM's device lock.
final class MSIXVector {
  let addressLow = Atomic<UInt32>(0)
  let addressHigh = Atomic<UInt32>(0)
  let data = Atomic<UInt32>(0)
  /// Vector control: bit 0 masks the vector; masked after reset (§6.8.2.9).
  let control = Atomic<UInt32>(1)
  let pending = Atomic<Bool>(false)

  var isMasked: Bool { control.load(ordering: .acquiring) & 1 != 0 }
  var address: UInt64 {
    UInt64(addressHigh.load(ordering: .acquiring)) << 32
      | UInt64(addressLow.load(ordering: .acquiring))
  }

  func reset() {
    addressLow.store(0, ordering: .relaxed)
    addressHigh.store(0, ordering: .relaxed)
    data.store(0, ordering: .relaxed)
    control.store(1, ordering: .releasing)
    pending.store(false, ordering: .releasing)
  }

  /// The 32-bit table word at `word` (0 address low, 1 high, 2 data, 3 control).
  func read(word: Int) -> UInt32 {
    switch word {
    case 0: return addressLow.load(ordering: .acquiring)
    case 1: return addressHigh.load(ordering: .acquiring)
    case 2: return data.load(ordering: .acquiring)
    default: return control.load(ordering: .acquiring)
    }
  }

  func write(word: Int, value: UInt32) {
    switch word {
    case 0: addressLow.store(value & ~3, ordering: .releasing)  // DWORD aligned (§6.8.2.6)
    case 1: addressHigh.store(value, ordering: .releasing)
    case 2: data.store(value, ordering: .releasing)
    default: control.store(value & 1, ordering: .releasing)
    }
  }
}
