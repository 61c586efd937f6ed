/// What a node answers: a failure, or the body that goes with the request's kind.
public enum Response: Equatable {
  case failure(ControlFailure)
  /// pause, unpause, destroy, powerOff, transferAbort.
  case done
  case nodeInfo(NodeInfo)
  case created(VMSummary)
  case vmList(VMList)
  case vmStatus(VMStatus)
  case vmIOStatus(VMIOStatus)
  case console(ConsoleOutput)
  case transferBegun(TransferTicket)
  case chunkAccepted(TransferProgress)
  case transferCommitted(TransferReceipt)
  case diskData(DiskData)
  case diskDigest(DiskDigest)
  /// Guest memory, as `diskData` carries a disk (`size` is the VM's memory size).
  case memoryData(DiskData)
  case dirtyLog(DirtyLogWindow)

  /// Whether this body answers a request of `kind` (a failure answers any).
  public func answers(_ kind: MessageKind) -> Bool {
    switch (self, kind) {
    case (.failure, _): return true
    case (.done, .pause), (.done, .unpause), (.done, .destroy), (.done, .powerOff),
      (.done, .transferAbort), (.done, .memoryWrite), (.done, .restoreState):
      return true
    case (.nodeInfo, .nodeInfo), (.created, .createVM), (.vmList, .listVMs), (.vmStatus, .status),
      (.console, .consoleRead), (.transferBegun, .transferBegin), (.chunkAccepted, .transferChunk),
      (.transferCommitted, .transferEnd), (.diskData, .diskRead), (.diskDigest, .diskDigest),
      (.memoryData, .memoryRead), (.dirtyLog, .dirtyLog), (.vmIOStatus, .ioStatus):
      return true
    default: return false
    }
  }

  /// The payload of the response to a request of `kind`: a status byte, then the body.
  public func encodedPayload(for kind: MessageKind) throws(WireError) -> [UInt8] {
    guard answers(kind) else { throw .invalidValue(at: 0) }
    var writer = WireWriter(capacity: 64)
    if case .failure(let failure) = self {
      guard failure.code != .ok else { throw .invalidValue(at: 0) }
      try failure.encode(into: &writer)
    } else {
      writer.u8(StatusCode.ok.rawValue)
    }
    switch self {
    case .failure, .done:
      break
    case .nodeInfo(let info):
      try info.encode(into: &writer)
    case .created(let summary):
      try summary.encode(into: &writer)
    case .vmList(let list):
      try writer.count8(list.vms.count, maximum: ProtocolLimits.maximumListedVMs)
      for vm in list.vms { try vm.encode(into: &writer) }
      writer.u16(list.total)
    case .vmStatus(let status):
      try status.encode(into: &writer)
    case .vmIOStatus(let status):
      try status.encode(into: &writer)
    case .console(let output):
      try output.encode(into: &writer)
    case .transferBegun(let ticket):
      writer.u32(ticket.transferID)
      writer.u16(ticket.chunkSize)
    case .chunkAccepted(let progress):
      writer.u64(progress.receivedBytes)
      writer.u64(progress.size)
    case .transferCommitted(let receipt):
      try writer.bytes8(receipt.name, maximum: ProtocolLimits.maximumImageNameLength)
      writer.u64(receipt.size)
      try writer.fixed(receipt.digest, count: SHA256Hasher.digestSize)
    case .diskData(let data), .memoryData(let data):
      try data.encode(into: &writer)
    case .dirtyLog(let window):
      try window.encode(into: &writer)
    case .diskDigest(let digest):
      writer.u64(digest.size)
      try writer.fixed(digest.digest, count: SHA256Hasher.digestSize)
    }
    guard writer.bytes.count <= ProtocolLimits.maximumPayload else { throw .tooLarge }
    return writer.bytes
  }

  /// The response a payload answering a request of `kind` holds; every byte must belong to it.
  public static func decode(kind: MessageKind, payload: [UInt8]) throws(WireError) -> Response {
    var reader = WireReader(payload)
    let code = try reader.enumeration(StatusCode.self)
    let response: Response
    if code != .ok {
      response = .failure(try ControlFailure.decode(code: code, from: &reader))
    } else {
      switch kind {
      case .pause, .unpause, .destroy, .powerOff, .transferAbort, .memoryWrite, .restoreState:
        response = .done
      case .nodeInfo:
        response = .nodeInfo(try NodeInfo.decode(from: &reader))
      case .createVM:
        response = .created(try VMSummary.decode(from: &reader))
      case .listVMs:
        let count = try reader.count8(
          maximum: ProtocolLimits.maximumListedVMs, minimumElementSize: VMSummary.minimumEncodedSize
        )
        var vms: [VMSummary] = []
        for _ in 0..<count { vms.append(try VMSummary.decode(from: &reader)) }
        response = .vmList(VMList(vms: vms, total: try reader.u16()))
      case .status:
        response = .vmStatus(try VMStatus.decode(from: &reader))
      case .ioStatus:
        response = .vmIOStatus(try VMIOStatus.decode(from: &reader))
      case .consoleRead:
        response = .console(try ConsoleOutput.decode(from: &reader))
      case .transferBegin:
        let transferID = try reader.u32()
        response = .transferBegun(
          TransferTicket(transferID: transferID, chunkSize: try reader.u16()))
      case .transferChunk:
        let received = try reader.u64()
        response = .chunkAccepted(TransferProgress(receivedBytes: received, size: try reader.u64()))
      case .transferEnd:
        let name = try reader.bytes8(maximum: ProtocolLimits.maximumImageNameLength)
        let size = try reader.u64()
        response = .transferCommitted(
          TransferReceipt(
            name: name, size: size, digest: try reader.fixed(count: SHA256Hasher.digestSize)))
      case .diskRead:
        response = .diskData(try DiskData.decode(from: &reader))
      case .memoryRead:
        response = .memoryData(try DiskData.decode(from: &reader))
      case .dirtyLog:
        response = .dirtyLog(try DirtyLogWindow.decode(from: &reader))
      case .diskDigest:
        let size = try reader.u64()
        response = .diskDigest(
          DiskDigest(size: size, digest: try reader.fixed(count: SHA256Hasher.digestSize)))
      }
    }
    try reader.finish()
    return response
  }
}
