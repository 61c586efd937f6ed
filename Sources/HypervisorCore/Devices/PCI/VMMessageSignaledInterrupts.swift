import Synchronization

/// A VM's MSI and MSI-X receiver: decodes a message as the x86 local APICs would (SDM 3A
/// §11.11.1 address, §11.11.2 data) and posts it to the vCPUs it names, through their
/// requests (VirtualCPU.postInterrupt, post(.nmi)), so a device may signal on any CPU.
///
/// Address 0xFEEx_xxxx: destination ID in bits 19:12, redirection hint in bit 3, destination
/// mode in bit 2 (1 = logical). The destination mode is honoured whatever the hint says, as
/// KVM does (the SDM lets the hint-0 case ignore it; Linux sets both consistently). Data:
/// vector in bits 7:0, delivery mode in bits 10:8; the trigger bits are ignored (every
/// message is an edge). Fixed goes to every vCPU named, lowest priority to the first of them
/// (every vCPU has the same priority here), NMI as an NMI. A message outside the
/// 0xFEE0_0000-0xFEEF_FFFF window, a vector below 16, SMI, INIT, ExtINT and reserved delivery
/// modes, and messages no vCPU accepts, deliver nothing and are counted.
public final class VMMessageSignaledInterrupts: MessageSignaledInterruptSink {
  /// The window the local APICs decode messages in (§11.11.1).
  public static let windowBase: UInt64 = 0xFEE0_0000
  public static let windowSize: UInt64 = 0x10_0000

  /// How a message is delivered, decoded from its data (§11.11.2, Table 11-2's encodings).
  public enum Delivery: Equatable {
    case fixed(vector: UInt8)
    case lowestPriority(vector: UInt8)
    case nmi
    /// SMI, INIT, ExtINT and the reserved encodings: not delivered to a guest here.
    case unsupported(mode: UInt8)
  }

  /// Whom a message names, decoded from its address.
  public enum Destination: Equatable {
    case physical(UInt8)
    case logical(UInt8)
  }

  private let vcpus: [VirtualCPU]
  /// Messages posted to at least one vCPU.
  public let delivered = Atomic<UInt64>(0)
  /// Messages whose address is outside the APICs' window: a device programmed with junk.
  public let droppedAddresses = Atomic<UInt64>(0)
  /// Messages with a valid address that delivered nothing (bad vector or delivery mode, or
  /// no vCPU named).
  public let undelivered = Atomic<UInt64>(0)

  /// `vcpus`: the VM's vCPUs; those with a local APIC can be destinations.
  public init(vcpus: [VirtualCPU]) {
    self.vcpus = vcpus.filter { $0.localAPIC != nil }
  }

  /// The destination a message address names, or nil outside the window (§11.11.1).
  public static func destination(of address: UInt64) -> Destination? {
    guard address >= windowBase, address - windowBase < windowSize else { return nil }
    let id = UInt8(truncatingIfNeeded: address >> 12)
    return address & (1 << 2) != 0 ? .logical(id) : .physical(id)
  }

  /// The delivery a message's data asks for (§11.11.2).
  public static func delivery(of data: UInt32) -> Delivery {
    let vector = UInt8(truncatingIfNeeded: data)
    let mode = UInt8(truncatingIfNeeded: data >> 8) & 7
    switch mode {
    case 0: return .fixed(vector: vector)
    case 1: return .lowestPriority(vector: vector)
    case 4: return .nmi
    default: return .unsupported(mode: mode)
    }
  }

  public func signal(address: UInt64, data: UInt32) {
    guard let destination = Self.destination(of: address) else {
      droppedAddresses.add(1, ordering: .relaxed)
      return
    }
    let delivery = Self.delivery(of: data)
    switch delivery {
    case .fixed(let vector), .lowestPriority(let vector):
      guard vector >= 16 else {  // vectors 0-15 are reserved (§11.5.2 "illegal vector")
        undelivered.add(1, ordering: .relaxed)
        return
      }
    case .nmi: break
    case .unsupported:
      undelivered.add(1, ordering: .relaxed)
      return
    }
    var any = false
    for vcpu in vcpus where Self.selects(destination, vcpu) {
      any = true
      switch delivery {
      case .fixed(let vector), .lowestPriority(let vector): vcpu.postInterrupt(vector: vector)
      case .nmi: vcpu.post(.nmi)
      case .unsupported: break
      }
      if case .lowestPriority = delivery { break }
    }
    if any {
      delivered.add(1, ordering: .relaxed)
    } else {
      undelivered.add(1, ordering: .relaxed)
    }
  }

  /// Physical: the APIC with that ID, or all of them for 0xFF (broadcast). Logical: the
  /// APICs whose published logical destination matches (flat or cluster model, §11.6.2.2).
  /// Reads only the APICs' immutable IDs and published LDR/DFR: any CPU may call it.
  static func selects(_ destination: Destination, _ vcpu: VirtualCPU) -> Bool {
    guard let apic = vcpu.localAPIC else { return false }
    switch destination {
    case .physical(let id): return id == 0xFF || apic.id == id
    case .logical(let mask): return apic.acceptsLogical(mask)
    }
  }
}
