/// What a client asks of a node: one case per `MessageKind`.
public enum Request: Equatable {
  case nodeInfo
  case createVM(VMSpecification)
  /// A page of the node's VMs, from the `startIndex`-th on.
  case listVMs(startIndex: UInt16)
  /// A VM's status; with `includeState`, also `ProtocolLimits.maximumStateBytes` of its
  /// saved state (device models and vCPU records) from `stateOffset` on.
  case status(name: [UInt8], includeState: Bool, stateOffset: UInt32)
  case pause(name: [UInt8])
  case unpause(name: [UInt8])
  case destroy(name: [UInt8])
  /// Up to `maximumLength` bytes of the VM's serial output from `offset` (bytes since the
  /// VM started).
  case consoleRead(name: [UInt8], offset: UInt64, maximumLength: UInt16)
  case powerOff
  case transferBegin(TransferDescription)
  case transferChunk(TransferChunk)
  /// Commit: the node checks that every byte came and the SHA-256.
  case transferEnd(transferID: UInt32)
  case transferAbort(transferID: UInt32)
  /// Up to `maximumLength` bytes of the VM's disk from the first chunk at or after `offset`
  /// that is not all zeros (docs/control-protocol.md, "Disks"); paused or ended VMs only.
  case diskRead(name: [UInt8], offset: UInt64, maximumLength: UInt16)
  /// The SHA-256 of the VM's whole disk; paused or ended VMs only.
  case diskDigest(name: [UInt8])
  /// Up to `maximumLength` bytes of the VM's guest memory from the first chunk at or after
  /// `offset` that is not all zeros, as `diskRead` reads a disk: paused or ended VMs, or
  /// running ones whose dirty log is on (the pages a write changes after the read are in
  /// the next snapshot).
  case memoryRead(name: [UInt8], offset: UInt64, maximumLength: UInt16)
  /// Guest memory for a VM created `incoming`.
  case memoryWrite(MemoryWrite)
  case dirtyLog(name: [UInt8], operation: DirtyLogOperation, startPage: UInt64)
  /// Puts the saved state in the transferred image `stateImage` (`SavedVMState`'s records)
  /// into the VM created `incoming`, and starts it.
  case restoreState(name: [UInt8], stateImage: [UInt8])
  /// A VM's guest I/O counters: the second page of its status (`VMIOStatus`).
  case ioStatus(name: [UInt8])

  public var kind: MessageKind {
    switch self {
    case .nodeInfo: return .nodeInfo
    case .createVM: return .createVM
    case .listVMs: return .listVMs
    case .status: return .status
    case .pause: return .pause
    case .unpause: return .unpause
    case .destroy: return .destroy
    case .consoleRead: return .consoleRead
    case .powerOff: return .powerOff
    case .transferBegin: return .transferBegin
    case .transferChunk: return .transferChunk
    case .transferEnd: return .transferEnd
    case .transferAbort: return .transferAbort
    case .diskRead: return .diskRead
    case .diskDigest: return .diskDigest
    case .memoryRead: return .memoryRead
    case .memoryWrite: return .memoryWrite
    case .dirtyLog: return .dirtyLog
    case .restoreState: return .restoreState
    case .ioStatus: return .ioStatus
    }
  }

  public func encodedPayload() throws(WireError) -> [UInt8] {
    var writer = WireWriter(capacity: 64)
    switch self {
    case .nodeInfo, .powerOff:
      break
    case .createVM(let specification):
      try specification.encode(into: &writer)
    case .listVMs(let startIndex):
      writer.u16(startIndex)
    case .status(let name, let includeState, let stateOffset):
      try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
      writer.bool(includeState)
      writer.u32(stateOffset)
    case .pause(let name), .unpause(let name), .destroy(let name), .diskDigest(let name),
      .ioStatus(let name):
      try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
    case .consoleRead(let name, let offset, let maximumLength),
      .diskRead(let name, let offset, let maximumLength),
      .memoryRead(let name, let offset, let maximumLength):
      try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
      writer.u64(offset)
      writer.u16(maximumLength)
    case .transferBegin(let description):
      try description.encode(into: &writer)
    case .transferChunk(let chunk):
      try chunk.encode(into: &writer)
    case .transferEnd(let transferID), .transferAbort(let transferID):
      writer.u32(transferID)
    case .memoryWrite(let write):
      try write.encode(into: &writer)
    case .dirtyLog(let name, let operation, let startPage):
      try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
      writer.u8(operation.rawValue)
      writer.u64(startPage)
    case .restoreState(let name, let stateImage):
      try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
      try writer.bytes8(stateImage, maximum: ProtocolLimits.maximumImageNameLength)
    }
    guard writer.bytes.count <= ProtocolLimits.maximumPayload else { throw .tooLarge }
    return writer.bytes
  }

  /// The request a payload of `kind` holds; every byte must belong to it.
  public static func decode(kind: MessageKind, payload: [UInt8]) throws(WireError) -> Request {
    var reader = WireReader(payload)
    let request: Request
    switch kind {
    case .nodeInfo:
      request = .nodeInfo
    case .powerOff:
      request = .powerOff
    case .createVM:
      request = .createVM(try VMSpecification.decode(from: &reader))
    case .listVMs:
      request = .listVMs(startIndex: try reader.u16())
    case .status:
      let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
      let includeState = try reader.bool()
      request = .status(name: name, includeState: includeState, stateOffset: try reader.u32())
    case .pause:
      request = .pause(name: try reader.bytes8(maximum: ProtocolLimits.maximumNameLength))
    case .unpause:
      request = .unpause(name: try reader.bytes8(maximum: ProtocolLimits.maximumNameLength))
    case .destroy:
      request = .destroy(name: try reader.bytes8(maximum: ProtocolLimits.maximumNameLength))
    case .consoleRead:
      let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
      let offset = try reader.u64()
      request = .consoleRead(name: name, offset: offset, maximumLength: try reader.u16())
    case .transferBegin:
      request = .transferBegin(try TransferDescription.decode(from: &reader))
    case .transferChunk:
      request = .transferChunk(try TransferChunk.decode(from: &reader))
    case .transferEnd:
      request = .transferEnd(transferID: try reader.u32())
    case .transferAbort:
      request = .transferAbort(transferID: try reader.u32())
    case .diskRead:
      let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
      let offset = try reader.u64()
      request = .diskRead(name: name, offset: offset, maximumLength: try reader.u16())
    case .diskDigest:
      request = .diskDigest(name: try reader.bytes8(maximum: ProtocolLimits.maximumNameLength))
    case .memoryRead:
      let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
      let offset = try reader.u64()
      request = .memoryRead(name: name, offset: offset, maximumLength: try reader.u16())
    case .memoryWrite:
      request = .memoryWrite(try MemoryWrite.decode(from: &reader))
    case .dirtyLog:
      let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
      let operation = try reader.enumeration(DirtyLogOperation.self)
      request = .dirtyLog(name: name, operation: operation, startPage: try reader.u64())
    case .restoreState:
      let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
      request = .restoreState(
        name: name, stateImage: try reader.bytes8(maximum: ProtocolLimits.maximumImageNameLength))
    case .ioStatus:
      request = .ioStatus(name: try reader.bytes8(maximum: ProtocolLimits.maximumNameLength))
    }
    try reader.finish()
    return request
  }
}
