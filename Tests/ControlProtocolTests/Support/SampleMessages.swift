import ControlProtocol

/// One request of every kind, with every field set (at its limit where it has one).
enum SampleMessages {
  static let specification = VMSpecification(
    name: bytes("linux-0"), kind: .linux, memorySize: 256 << 20, vcpuCount: 2,
    scheduling: .pinned, pinnedCPUs: [0, 1], kernelImage: bytes("vmlinuz"),
    initrdImage: bytes("initramfs.cpio.gz"),
    commandLine: bytes("console=ttyS0 earlyprintk=serial,ttyS0,115200"),
    nics: [[0x02, 0x00, 0x00, 0x00, 0x00, 0x01], [0x02, 0, 0, 0, 0, 2]],
    diskImage: bytes("linux-0.disk"),
    passthrough: [PCIFunctionID(segment: 0, bus: 0, device: 5, function: 0)])

  static let digest = SHA256Hasher.hash(bytes("image"))

  static let requests: [Request] = [
    .nodeInfo,
    .createVM(specification),
    .createVM(
      VMSpecification(
        name: [UInt8](repeating: UInt8(ascii: "n"), count: ProtocolLimits.maximumNameLength),
        kind: .flat,
        memorySize: 1 << 20,
        kernelImage: [UInt8](repeating: 1, count: ProtocolLimits.maximumImageNameLength),
        commandLine: [UInt8](repeating: 0x41, count: ProtocolLimits.maximumCommandLineLength),
        nics: Array(repeating: [2, 0, 0, 0, 0, 9], count: ProtocolLimits.maximumNICs),
        diskImage: [UInt8](repeating: 2, count: ProtocolLimits.maximumImageNameLength),
        incoming: true,
        passthrough: (0..<ProtocolLimits.maximumPassthroughFunctions).map {
          PCIFunctionID(segment: 0xffff, bus: 0xff, device: 31, function: UInt8($0))
        })),
    .listVMs(startIndex: 24),
    .status(name: bytes("linux-0"), includeState: true, stateOffset: 256),
    .status(name: bytes("linux-0"), includeState: false, stateOffset: 0),
    .pause(name: bytes("linux-0")),
    .unpause(name: bytes("linux-0")),
    .destroy(name: bytes("linux-0")),
    .consoleRead(name: bytes("linux-0"), offset: 1 << 40, maximumLength: 1200),
    .powerOff,
    .transferBegin(TransferDescription(name: bytes("vmlinuz"), size: 8 << 20, digest: digest)),
    .transferChunk(
      TransferChunk(
        transferID: 7, offset: 1024 * 5,
        bytes: [UInt8](repeating: 0xee, count: ProtocolLimits.maximumChunkSize))),
    .transferEnd(transferID: 7),
    .transferAbort(transferID: 7),
    .transferBegin(
      TransferDescription(name: bytes("vm.disk"), size: 64 << 20, digest: digest, sparse: true)),
    .diskRead(name: bytes("linux-0"), offset: 1 << 33, maximumLength: 1024),
    .diskDigest(name: bytes("linux-0")),
    .memoryRead(name: bytes("linux-0"), offset: 255 << 20, maximumLength: 1024),
    .memoryWrite(
      MemoryWrite(
        name: [UInt8](repeating: UInt8(ascii: "m"), count: ProtocolLimits.maximumNameLength),
        offset: 1 << 36,
        bytes: [UInt8](repeating: 0x5a, count: ProtocolLimits.maximumMemoryBytes))),
    .dirtyLog(name: bytes("linux-0"), operation: .start, startPage: 0),
    .dirtyLog(name: bytes("linux-0"), operation: .read, startPage: 8192),
    .restoreState(name: bytes("linux-0"), stateImage: bytes("linux-0.state")),
    .ioStatus(name: bytes("linux-0")),
  ]

  static let summary = VMSummary(
    id: 3, name: bytes("linux-0"), state: .running, vcpuCount: 2, memorySize: 256 << 20,
    uptimeMilliseconds: 98_765)

  /// Each response with the kind of request it answers.
  static let responses: [(MessageKind, Response)] = [
    (
      .nodeInfo,
      .nodeInfo(
        NodeInfo(
          version: bytes("0.11+abcdef0"), backend: .svm, health: .healthy, cpuCount: 4, packages: 1,
          coresPerPackage: 4, threadsPerCore: 1, totalMemory: 2 << 30, freeMemory: 1 << 30,
          vmCount: 1, uptimeMilliseconds: 123_456, counters: counters))
    ),
    (
      .nodeInfo,
      .nodeInfo(
        NodeInfo(
          version: [UInt8](repeating: 0x76, count: ProtocolLimits.maximumVersionLength),
          backend: .vmx, health: .degraded, cpuCount: 2, coresPerPackage: 2,
          totalMemory: 1 << 30, freeMemory: 1 << 20, vmCount: 0, uptimeMilliseconds: 1,
          counters: counters,
          problems: [
            NodeInfo.HealthProblem(.cpuStalled, subject: 1, value: 2500),
            NodeInfo.HealthProblem(.lowMemory, value: 1 << 20),
          ]
            + Array(
              repeating: NodeInfo.HealthProblem(.failedVMs, value: 3),
              count: ProtocolLimits.maximumHealthProblems - 2)))
    ),
    (
      .nodeInfo,
      .nodeInfo(
        NodeInfo(
          version: bytes("0.12"), backend: .svm, health: .degraded, cpuCount: 2,
          coresPerPackage: 2, totalMemory: 1 << 30, freeMemory: 1 << 29, vmCount: 0,
          uptimeMilliseconds: 9000, counters: counters,
          problems: [NodeInfo.HealthProblem(.correctedMachineChecks, subject: 1, value: 5)],
          correctedMachineChecks: 7, uncorrectedMachineChecks: 1,
          history: (0..<ProtocolLimits.maximumHealthHistory).map { index in
            NodeInfo.HistoryEntry(
              millisecondsSinceBoot: UInt64(1000 + index),
              kind: NodeInfo.HistoryEntry.Kind.allCases[index % 4],
              subject: UInt16(index), value: UInt64(index))
          }))
    ),
    (.createVM, .created(summary)),
    (
      .listVMs,
      .vmList(
        VMList(
          vms: Array(
            repeating: VMSummary(
              id: 65535, name: [UInt8](repeating: 0x61, count: ProtocolLimits.maximumNameLength),
              state: .paused, vcpuCount: 64, memorySize: 64 << 30, uptimeMilliseconds: .max),
            count: ProtocolLimits.maximumListedVMs), total: 300))
    ),
    (.status, .vmStatus(fullStatus)),
    (.ioStatus, .vmIOStatus(fullIOStatus)),
    (.ioStatus, .vmIOStatus(VMIOStatus(uptimeMilliseconds: 1, totalExits: 0))),
    (
      .status,
      .vmStatus(VMStatus(summary: summary, uptimeMilliseconds: 0, vcpuCPUs: [VMStatus.notOnACPU]))
    ),
    (
      .consoleRead,
      .console(
        ConsoleOutput(
          offset: 99, bytes: [UInt8](repeating: 0x2e, count: ProtocolLimits.maximumConsoleBytes),
          written: 5000,
          ended: true))
    ),
    (.transferBegin, .transferBegun(TransferTicket(transferID: 1, chunkSize: 1024))),
    (.transferChunk, .chunkAccepted(TransferProgress(receivedBytes: 2048, size: 8 << 20))),
    (
      .transferEnd,
      .transferCommitted(TransferReceipt(name: bytes("vmlinuz"), size: 8 << 20, digest: digest))
    ),
    (.pause, .done), (.unpause, .done), (.destroy, .done), (.powerOff, .done),
    (.transferAbort, .done),
    (
      .diskRead,
      .diskData(
        DiskData(
          size: 64 << 20, offset: 1 << 20,
          bytes: [UInt8](repeating: 0x3c, count: ProtocolLimits.maximumDiskReadBytes)))
    ),
    (.diskRead, .diskData(DiskData(size: 64 << 20, offset: 8 << 20, bytes: []))),
    (.diskDigest, .diskDigest(DiskDigest(size: 64 << 20, digest: digest))),
    (
      .memoryRead,
      .memoryData(
        DiskData(
          size: 256 << 20, offset: 1 << 20,
          bytes: [UInt8](repeating: 0x3d, count: ProtocolLimits.maximumMemoryBytes)))
    ),
    (.memoryWrite, .done), (.restoreState, .done),
    (
      .dirtyLog,
      .dirtyLog(
        DirtyLogWindow(
          pageCount: 1 << 26, dirtyCount: 12_345, startPage: 8192,
          bitmap: [UInt8](repeating: 0xa5, count: ProtocolLimits.maximumDirtyBitmapBytes)))
    ),
    (
      .createVM,
      .failure(
        ControlFailure(
          .nameInUse, detail: [UInt8](repeating: 0x78, count: ProtocolLimits.maximumErrorDetail)))
    ),
    (.pause, .failure(ControlFailure(.replayed, nextSequence: 1 << 50))),
  ]

  static var counters: ReceiverCounters {
    var counters = ReceiverCounters()
    counters.accepted = 10
    counters.duplicates = 2
    counters.refusedUnauthenticated = 3
    counters.refusedMalformed = 4
    counters.refusedReplayed = 5
    counters.refusedStaleEpoch = 6
    return counters
  }

  /// An I/O status page with a disk and every guest NIC a VM can have, every counter set.
  static let fullIOStatus = VMIOStatus(
    uptimeMilliseconds: .max, totalExits: 1 << 62,
    disk: DiskCounters(
      reads: 1, writes: 2, flushes: 3, otherRequests: 4, bytesRead: 5, bytesWritten: 6,
      ioErrors: 7, notifications: 8, queueFaults: .max),
    nics: (0..<ProtocolLimits.maximumNICs).map {
      NICCounters(
        mac: [0x52, 0x54, 0, 0x12, 0x34, UInt8($0)], transmittedFrames: 1 << 40,
        transmittedBytes: 1 << 50, receivedFrames: 3, receivedBytes: 4, copies: 5,
        copiedBytes: .max, notifications: 7, droppedFrames: 6)
    })

  /// A status at every limit at once: it must still fit one datagram.
  static let fullStatus = VMStatus(
    summary: VMSummary(
      id: 1, name: [UInt8](repeating: 0x62, count: ProtocolLimits.maximumNameLength),
      state: .running,
      vcpuCount: 64, memorySize: 1 << 30, uptimeMilliseconds: .max),
    uptimeMilliseconds: 1 << 33,
    vcpuCPUs: Array(repeating: 3, count: ProtocolLimits.maximumVCPUs),
    exits: Array(
      repeating: ExitCount(
        reason: [UInt8](repeating: 0x63, count: ProtocolLimits.maximumExitReasonNameLength),
        count: 1 << 60),
      count: ProtocolLimits.maximumExitReasons),
    refusedMSRs: Array(
      repeating: RefusedMSR(msr: 0xc001_0114, count: 7), count: ProtocolLimits.maximumRefusedMSRs),
    state: StateExcerpt(
      totalSize: 5000, offset: 1024,
      bytes: [UInt8](repeating: 0x5a, count: ProtocolLimits.maximumStateBytes)),
    passthrough: (0..<ProtocolLimits.maximumPassthroughFunctions).map {
      PCIFunctionID(segment: 0, bus: UInt8($0), device: 31, function: 7)
    })
}
