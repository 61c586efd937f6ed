import Foundation
import PeregrineProfiles

// What nodes answer and what the CLI sends them, in the CLI's terms (NodeConnection).

/// The node's own description (`peregrine nodes`).
public struct NodeReport: Equatable, Codable {
  public var cpuCount: Int
  /// e.g. "1 package, 2 cores, 1 thread per core".
  public var topology: String
  public var totalMemory: UInt64
  public var freeMemory: UInt64
  public var machines: [String]
  public var health: String
  /// Why it is degraded, in words (empty when healthy).
  public var healthProblems: [String]
  public var uptimeSeconds: Double
  public var version: String
  /// Requests refused for bad authentication, malformed or replayed, since boot.
  public var refusedRequests: UInt64
  /// Machine-check errors since boot, all CPUs (docs/node-health.md).
  public var correctedMachineChecks: UInt64
  public var uncorrectedMachineChecks: UInt64
  /// The node's recent health events, oldest first.
  public var healthHistory: [HealthHistoryEntry]
  /// The node's own word on its vendor (`nodeInfo`); nil from a connection that does not
  /// say. `migrate` and `restore` refuse a node of another vendor by it (VendorCheck).
  public var backend: Backend?

  public init(
    cpuCount: Int, topology: String, totalMemory: UInt64, freeMemory: UInt64, machines: [String],
    health: String, healthProblems: [String] = [],
    correctedMachineChecks: UInt64 = 0, uncorrectedMachineChecks: UInt64 = 0,
    healthHistory: [HealthHistoryEntry] = [],
    uptimeSeconds: Double, version: String, refusedRequests: UInt64, backend: Backend? = nil
  ) {
    self.backend = backend
    self.correctedMachineChecks = correctedMachineChecks
    self.uncorrectedMachineChecks = uncorrectedMachineChecks
    self.healthHistory = healthHistory
    self.cpuCount = cpuCount
    self.topology = topology
    self.totalMemory = totalMemory
    self.freeMemory = freeMemory
    self.machines = machines
    self.health = health
    self.healthProblems = healthProblems
    self.uptimeSeconds = uptimeSeconds
    self.version = version
    self.refusedRequests = refusedRequests
  }
}

/// One event of a node's health history (`peregrine nodes --json`).
public struct HealthHistoryEntry: Equatable, Codable {
  public var secondsSinceBoot: Double
  /// correctedMachineCheck, uncorrectedMachineCheck, becameDegraded, becameHealthy.
  public var kind: String
  public var detail: String
  /// A machine-check event's CPU and bank, and a corrected one's error count: what the
  /// fault-tolerance daemon counts per bank (docs/fault-tolerance.md). Nil otherwise.
  public var cpu: Int?
  public var bank: Int?
  public var count: UInt64?

  public init(
    secondsSinceBoot: Double, kind: String, detail: String, cpu: Int? = nil, bank: Int? = nil,
    count: UInt64? = nil
  ) {
    self.secondsSinceBoot = secondsSinceBoot
    self.kind = kind
    self.detail = detail
    self.cpu = cpu
    self.bank = bank
    self.count = count
  }
}

public enum MachineState: String, Codable, Equatable {
  case starting, running, paused, stopping, ended
  /// Built on its node and waiting for a restored or migrated state (`VMState.incoming`).
  case incoming
}

public struct MachineSummary: Equatable, Codable {
  public var name: String
  public var state: MachineState
  public var vcpus: Int
  public var memory: UInt64
  public var uptimeSeconds: Double
  /// How `create` sent the VM's disk (nil without one).
  public var diskTransfer: DiskTransferCounts? = nil

  public init(name: String, state: MachineState, vcpus: Int, memory: UInt64, uptimeSeconds: Double)
  {
    self.name = name
    self.state = state
    self.vcpus = vcpus
    self.memory = memory
    self.uptimeSeconds = uptimeSeconds
  }
}

/// `peregrine status VM`: state, vCPUs and their cores, memory, uptime, exits per reason,
/// refused MSRs, and with `--state` the saved state.
public struct MachineStatus: Equatable, Codable {
  public var summary: MachineSummary
  public var vcpus: [VCPUStatus]
  public var exits: [ExitCount]
  public var refusedMSRs: [RefusedMSR]
  /// `--state`: the vCPUs' vendor-neutral architectural records and each device model's
  /// saved value, as named fields (nil unless asked for).
  public var savedState: [StateSection]?
  /// The guest NICs' counters (docs/guest-io.md); empty for a VM without NICs.
  public var nics: [NICStatus] = []
  /// The virtio-blk disk's counters; nil for a VM without a disk.
  public var disk: DiskStatus?
  /// Every exit of the VM when the I/O counters were read (they are read together).
  public var ioExits: UInt64 = 0
  /// The host PCI functions the VM owns (`<passthrough>`, docs/passthrough.md), as
  /// `0000:00:05.0`.
  public var passthrough: [String] = []

  public init(
    summary: MachineSummary, vcpus: [VCPUStatus], exits: [ExitCount], refusedMSRs: [RefusedMSR],
    savedState: [StateSection]? = nil, nics: [NICStatus] = [], disk: DiskStatus? = nil,
    ioExits: UInt64 = 0, passthrough: [String] = []
  ) {
    self.nics = nics
    self.disk = disk
    self.ioExits = ioExits
    self.passthrough = passthrough
    self.summary = summary
    self.vcpus = vcpus
    self.exits = exits
    self.refusedMSRs = refusedMSRs
    self.savedState = savedState
  }
}

public struct VCPUStatus: Equatable, Codable {
  public var index: Int
  /// The host CPU it runs on (or last ran on).
  public var cpu: Int
  public var state: String
  public init(index: Int, cpu: Int, state: String) {
    self.index = index
    self.cpu = cpu
    self.state = state
  }
}

public struct ExitCount: Equatable, Codable {
  public var reason: String
  public var count: UInt64
  public init(reason: String, count: UInt64) {
    self.reason = reason
    self.count = count
  }
}

public struct RefusedMSR: Equatable, Codable {
  public var msr: UInt32
  public var write: Bool
  public var count: UInt64
  public init(msr: UInt32, write: Bool, count: UInt64) {
    self.msr = msr
    self.write = write
    self.count = count
  }
}

/// One titled group of saved state ("vcpu 0", "serial", "pit"), fields in the node's order.
public struct StateSection: Equatable, Codable {
  public var title: String
  public var fields: [StateField]
  /// What the fields mean together, in words ("mode: 64-bit long mode", "pending event:
  /// none").
  public var notes: [String]
  public init(title: String, fields: [StateField], notes: [String] = []) {
    self.title = title
    self.fields = fields
    self.notes = notes
  }
}

public struct StateField: Equatable, Codable {
  public var name: String
  public var value: UInt64
  /// Bits of `value` that matter (8, 16, 32, 64), for printing.
  public var width: Int
  public init(name: String, value: UInt64, width: Int = 64) {
    self.name = name
    self.value = value
    self.width = width
  }
}

/// What `create` sends: the validated profile and the contents of the files it names.
public struct CreateRequest {
  public var profile: MachineProfile
  public var files: [Upload]
  /// Where the disk (the "disk" upload) came from, so that `image save` and `destroy` bring
  /// it back there.
  public var diskSource: DiskSource? = nil
  /// Created `incoming` (restore, docs/checkpoint.md): built with its memory zeroed and
  /// nothing loaded; its kernel and initrd are named but not sent.
  public var incoming = false

  public struct Upload: Equatable {
    /// "kernel", "initrd", "image", "disk".
    public var role: String
    public var path: String
    public var contents: Data
  }

  public var totalBytes: UInt64 { files.reduce(0) { $0 + UInt64($1.contents.count) } }
}

public struct TransferProgress: Equatable {
  public var file: String
  public var sentBytes: UInt64
  public var totalBytes: UInt64
  public init(file: String, sentBytes: UInt64, totalBytes: UInt64) {
    self.file = file
    self.sentBytes = sentBytes
    self.totalBytes = totalBytes
  }
}

public struct ConsoleChunk: Equatable {
  public var bytes: [UInt8]
  /// Where the next read starts.
  public var nextOffset: UInt64
  /// Bytes the node's console buffer dropped before `bytes` (the reader fell behind).
  public var droppedBytes: UInt64
  /// The VM has ended: nothing more will come.
  public var ended: Bool
  public init(bytes: [UInt8], nextOffset: UInt64, droppedBytes: UInt64 = 0, ended: Bool = false) {
    self.bytes = bytes
    self.nextOffset = nextOffset
    self.droppedBytes = droppedBytes
    self.ended = ended
  }
}

/// One guest NIC in `status VM`: frames and bytes each way, the copies the hypervisor made
/// of frames into or out of guest memory and their bytes (per frame: `/ (sent + received)`),
/// the doorbell writes it received (one VM exit each), and drops.
public struct NICStatus: Equatable, Codable {
  public var mac: String
  public var sentFrames: UInt64
  public var sentBytes: UInt64
  public var receivedFrames: UInt64
  public var receivedBytes: UInt64
  public var copies: UInt64
  public var copiedBytes: UInt64
  public var notifications: UInt64
  public var droppedFrames: UInt64

  public var frames: UInt64 { sentFrames + receivedFrames }

  public init(
    mac: String, sentFrames: UInt64, sentBytes: UInt64, receivedFrames: UInt64,
    receivedBytes: UInt64, copies: UInt64 = 0, copiedBytes: UInt64, notifications: UInt64 = 0,
    droppedFrames: UInt64
  ) {
    self.mac = mac
    self.copies = copies
    self.notifications = notifications
    self.sentFrames = sentFrames
    self.sentBytes = sentBytes
    self.receivedFrames = receivedFrames
    self.receivedBytes = receivedBytes
    self.copiedBytes = copiedBytes
    self.droppedFrames = droppedFrames
  }
}

/// The VM's virtio-blk disk in `status VM`: requests by type, bytes, requests answered
/// IOERR, and the doorbell writes it received (one VM exit each).
public struct DiskStatus: Equatable, Codable {
  public var reads: UInt64
  public var writes: UInt64
  public var flushes: UInt64
  /// GET_ID, DISCARD, WRITE_ZEROES, unsupported types, malformed requests.
  public var otherRequests: UInt64
  public var bytesRead: UInt64
  public var bytesWritten: UInt64
  public var ioErrors: UInt64
  public var notifications: UInt64
  public var queueFaults: UInt64

  public var requests: UInt64 { reads + writes + flushes + otherRequests }

  public init(
    reads: UInt64, writes: UInt64, flushes: UInt64, otherRequests: UInt64, bytesRead: UInt64,
    bytesWritten: UInt64, ioErrors: UInt64, notifications: UInt64, queueFaults: UInt64
  ) {
    self.reads = reads
    self.writes = writes
    self.flushes = flushes
    self.otherRequests = otherRequests
    self.bytesRead = bytesRead
    self.bytesWritten = bytesWritten
    self.ioErrors = ioErrors
    self.notifications = notifications
    self.queueFaults = queueFaults
  }
}
