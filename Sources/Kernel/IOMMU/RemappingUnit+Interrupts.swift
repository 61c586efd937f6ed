import CArch
import HypervisorCore

/// Queued invalidation and interrupt remapping on a VT-d unit (VT-d spec rev 4.1 §6.5.2,
/// chapter 5, §9.10, §11.4.4, §11.4.9, §11.4.10). Encodings are in HypervisorCore
/// (InterruptRemapping.swift).
extension RemappingUnit {
  /// §6.5.2: IQA ← one page (256 128-bit descriptors), IQT ← 0, then GCMD.QIE and wait for
  /// GSTS.QIES. From here on every invalidation goes through the queue.
  mutating func enableQueuedInvalidation() -> Bool {
    guard extendedCapability.queuedInvalidation, invalidationQueue == 0,
      let queue = PhysicalFrames.allocateZeroed(), let status = PhysicalFrames.allocateZeroed()
    else { return false }
    write64(InterruptRemappingRegister.queueAddress, InvalidationQueue.addressValue(queue: queue))
    write32(InterruptRemappingRegister.queueTail, 0)
    guard command(RemappingGlobalBit.queuedInvalidation, set: true) else { return false }
    invalidationQueue = queue
    invalidationStatus = status
    return true
  }

  /// Writes `descriptors` and a wait descriptor at the tail, moves the tail, and waits for
  /// the wait descriptor's status write (§6.5.2.8). False on a timeout or an invalidation
  /// queue error (FSTS.IQE, bit 4, §11.4.7.1).
  func submit(_ descriptors: [QueuedInvalidationDescriptor]) -> Bool {
    let status = UnsafeMutablePointer<UInt32>(bitPattern: UInt(invalidationStatus))!
    status.pointee = 0
    var tail = InvalidationQueue.index(
      register: UInt64(read32(InterruptRemappingRegister.queueTail)))
    for descriptor in descriptors + [.wait(status: 1, address: invalidationStatus)] {
      let slot = UnsafeMutablePointer<UInt64>(
        bitPattern: UInt(invalidationQueue + UInt64(tail * 16)))!
      slot[0] = descriptor.low
      slot[1] = descriptor.high
      tail = (tail + 1) % InvalidationQueue.entries
    }
    mmio_barrier()
    // The low half alone: bits 63:19 are reserved, and QEMU fetches on this write.
    write32(InterruptRemappingRegister.queueTail, UInt32(InvalidationQueue.register(index: tail)))
    for _ in 0..<1_000_000 {
      mmio_barrier()
      if status.pointee == 1 { return true }
      if read32(RemappingRegister.faultStatus) & 1 << 4 != 0 { return false }
      arch_pause()
    }
    return false
  }

  /// Chapter 5 / §11.4.4: IRTA ← a zeroed 256-entry table (xAPIC mode), SIRTP (wait IRTPS),
  /// a global interrupt-entry-cache invalidation (required between SIRTP and IRE), then IRE
  /// with CFI clear, so compatibility-format interrupts are blocked (§5.1.4) and a device can
  /// raise only the interrupts whose entries name it (source-id verification).
  mutating func enableInterruptRemapping() -> Bool {
    guard extendedCapability.interruptRemapping, invalidationQueue != 0, interruptTable == 0,
      let table = PhysicalFrames.allocateZeroed()
    else { return false }
    write64(
      InterruptRemappingRegister.tableAddress, InterruptRemappingTable.registerValue(table: table))
    guard command(RemappingGlobalBit.setInterruptTablePointer, set: true),
      submit([.interruptEntriesGlobal])
    else { return false }
    if status & RemappingGlobalBit.compatibilityFormatInterrupts != 0 {
      guard command(RemappingGlobalBit.compatibilityFormatInterrupts, set: false) else {
        return false
      }
    }
    guard command(RemappingGlobalBit.interruptRemapping, set: true) else { return false }
    interruptTable = table
    return true
  }

  /// Writes entry `index` (high half first, low with P last, as context entries are) and
  /// invalidates that entry's cached copy (§6.5.2.7, index-selective).
  func setInterruptEntry(_ index: Int, _ entry: InterruptRemappingEntry) -> Bool {
    let slot = UnsafeMutablePointer<UInt64>(bitPattern: UInt(interruptTable + UInt64(index * 16)))!
    slot[0] = 0
    mmio_barrier()
    slot[1] = entry.high
    mmio_barrier()
    slot[0] = entry.low
    mmio_barrier()
    return submit([.interruptEntry(UInt16(index))])
  }
}
