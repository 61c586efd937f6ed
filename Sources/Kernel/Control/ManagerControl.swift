import CArch
import ControlProtocol
import HypervisorCore

/// The control protocol's VM requests carried out by the VM manager: the wire's fields
/// become a `VMProfile` and images from completed transfers, the manager's refusals become
/// status codes with its own words. Every check that can refuse runs before anything
/// changes, so a refused request changes nothing.
final class ManagerControl<Backend: VirtualizationBackend>: VMControl {
  let manager: VMManager<Backend>

  /// The `disk digest` under way: the disk (by identity) and how far its hashing got. One
  /// request hashes at most `digestBytesPerRequest` (a 64 MiB disk hashed whole held CPU 0,
  /// and so the control loop, ~3 s under emulation); the rest waits for the client to ask
  /// again. Dropped by any request that may let the disk change (unpause, destroy, create).
  private var digestUnderWay: (disk: DiskImage, frontier: ImageDigestFrontier)?
  static var digestBytesPerRequest: Int { 256 << 10 }
  /// Each side of a migration under way here (MigrationLeaseControl).
  var leases = MigrationLeases()

  init(manager: VMManager<Backend>) { self.manager = manager }

  var vmCount: Int { manager.list().count }

  var failedVMCount: Int { manager.failedVMCount }

  func powerOff() { manager.powerOff() }

  func execute(_ request: Request, images: inout ImageStore) -> Response {
    let now = arch_rdtsc() / max(LocalAPIC.tscPerMillisecond, 1)
    if let name = Self.migrationTraffic(request) { leases.renew(name, now: now) }
    if let answer = leaseRequest(request, now: now) { return answer }
    let answer = perform(request, images: &images)
    noteLeases(request, answer: answer, now: now)
    return answer
  }

  private func perform(_ request: Request, images: inout ImageStore) -> Response {
    switch request {
    case .createVM, .unpause, .destroy: digestUnderWay = nil
    default: break
    }
    switch request {
    case .createVM(let specification):
      let answer = create(specification, images: &images)
      // Created or refused, the images it named are done with: the loader copied them into
      // the VM's memory, or nothing will (a new create sends them again). Their frames go
      // back now, so a refused create leaves the node's free memory as it found it. (A
      // created VM's disk left the store: its frames are the VM's.)
      images.remove(specification.kernelImage)
      if !specification.initrdImage.isEmpty { images.remove(specification.initrdImage) }
      if !specification.diskImage.isEmpty { images.remove(specification.diskImage) }
      return answer
    case .listVMs(let startIndex):
      let all = manager.list()
      let start = min(Int(startIndex), all.count)
      let page = all[start..<min(all.count, start + ProtocolLimits.maximumListedVMs)]
      return .vmList(VMList(vms: page.map(summary), total: UInt16(clamping: all.count)))
    case .status(let name, let includeState, let stateOffset):
      guard let id = manager.id(named: name) else { return unknown(name) }
      switch manager.status(id) {
      case .failure(let refusal): return .failure(failure(refusal))
      case .success(let status):
        guard includeState else { return .vmStatus(report(status, state: nil)) }
        switch savedState(of: id, lifecycle: status.lifecycle) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let state):
          return .vmStatus(report(status, state: StateExcerpt.window(of: state, from: stateOffset)))
        }
      }
    case .ioStatus(let name):
      guard let id = manager.id(named: name) else { return unknown(name) }
      switch manager.status(id) {
      case .failure(let refusal): return .failure(failure(refusal))
      case .success(let status): return .vmIOStatus(ioReport(status))
      }
    case .pause(let name):
      return command(name) { self.manager.pause($0) }
    case .unpause(let name):
      return command(name) { self.manager.unpause($0) }
    case .destroy(let name):
      // A VM that ended by itself is gone from the manager, but its disk was kept for
      // reading back until it is destroyed.
      if manager.id(named: name) == nil && TransferredDisks.discardEnded(name) { return .done }
      return command(name) { self.manager.destroy($0) }
    case .diskRead(let name, let offset, let maximumLength):
      switch readableDisk(of: name) {
      case .failure(let failure): return .failure(failure)
      case .success(let disk):
        guard
          let data = DiskScan.read(
            UnsafeRawBufferPointer(disk.bytes), from: offset, maximumLength: Int(maximumLength))
        else {
          return .failure(ControlFailure(.chunkOutOfBounds, text: "outside the disk or unaligned"))
        }
        return .diskData(data)
      }
    case .diskDigest(let name):
      switch readableDisk(of: name) {
      case .failure(let failure): return .failure(failure)
      case .success(let disk):
        guard let digest = digestSlice(of: disk) else {
          return .failure(ControlFailure(.busy, text: "still hashing the disk: ask again"))
        }
        return .diskDigest(DiskDigest(size: disk.size, digest: digest))
      }
    case .consoleRead(let name, let offset, let maximumLength):
      let maximum = min(Int(maximumLength), ProtocolLimits.maximumConsoleBytes)
      guard let read = manager.console.history(of: name, from: offset, maximum: maximum) else {
        return unknown(name)
      }
      var ended = true
      if let id = manager.id(named: name), case .success(let status) = manager.status(id) {
        ended = status.lifecycle == .stopping || status.lifecycle == .gone
      }
      return .console(
        ConsoleOutput(offset: read.offset, bytes: read.bytes, written: read.written, ended: ended))
    case .memoryRead(let name, let offset, let maximumLength):
      return IncomingMemory.read(name, from: offset, maximumLength: maximumLength, manager: manager)
    case .memoryWrite(let write):
      return IncomingMemory.write(write, manager: manager)
    case .restoreState(let name, let stateImage):
      let answer = IncomingMemory.restore(name, image: stateImage, images: images, manager: manager)
      // Restored or refused, the state image is done with (a new attempt sends it again).
      images.remove(stateImage)
      return answer
    case .dirtyLog(let name, let operation, let startPage):
      return DirtyLogControl.execute(name, operation, from: startPage, manager: manager)
    case .nodeInfo, .powerOff, .transferBegin, .transferChunk, .transferEnd, .transferAbort:
      return .failure(ControlFailure(.internalError, text: "not a VM request"))
    }
  }

  /// A disk that reads the same from one request to the next: a paused VM's (no vCPU runs,
  /// so the device model writes nothing), or the kept disk of a VM that ended by itself.
  private func readableDisk(of name: [UInt8]) -> Result<DiskImage, ControlFailure> {
    guard let id = manager.id(named: name) else {
      if let disk = TransferredDisks.endedDisk(of: name) { return .success(disk) }
      return .failure(ControlFailure(.unknownVM, detail: name))
    }
    guard case .success(let status) = manager.status(id), status.lifecycle == .paused else {
      return .failure(
        ControlFailure(
          .invalidState,
          text: "pause the VM first: its disk is read only while no vCPU runs (or once it ended)"))
    }
    guard let disk = manager.virtualMachine(id)?.disk else {
      return .failure(ControlFailure(.unknownImage, text: "the VM has no disk"))
    }
    return .success(disk)
  }

  /// One request's share of the SHA-256 of the whole disk: the digest once every byte is
  /// in, nil while there is more to hash.
  private func digestSlice(of disk: DiskImage) -> [UInt8]? {
    if digestUnderWay == nil || digestUnderWay!.disk !== disk {
      digestUnderWay = (disk, ImageDigestFrontier(size: disk.bytes.count))
    }
    guard
      digestUnderWay!.frontier.advance(
        over: UnsafeRawBufferPointer(disk.bytes), budget: Self.digestBytesPerRequest)
    else { return nil }
    let digest = digestUnderWay!.frontier.finalize()
    digestUnderWay = nil
    return digest
  }

  private func create(_ specification: VMSpecification, images: inout ImageStore) -> Response {
    if let problem = specification.problem() { return .failure(problem) }
    guard manager.id(named: specification.name) == nil else {
      return .failure(ControlFailure(.nameInUse, text: "a VM of that name runs on the node"))
    }
    guard TransferredDisks.endedDisk(of: specification.name) == nil else {
      return .failure(
        ControlFailure(
          .nameInUse,
          text: "a VM of that name ended and its disk is kept until it is destroyed (destroy it)"))
    }
    if !specification.diskImage.isEmpty && images.contents(of: specification.diskImage) == nil {
      return .failure(ControlFailure(.unknownImage, detail: specification.diskImage))
    }
    // An incoming VM loads no image: its memory comes with `memoryWrite` (the kernel is
    // named, as the profile names it, but need not be sent).
    let kernel: UnsafeRawBufferPointer
    if let found = images.contents(of: specification.kernelImage) {
      kernel = found
    } else if specification.incoming {
      kernel = UnsafeRawBufferPointer(start: nil, count: 0)
    } else {
      return .failure(ControlFailure(.unknownImage, detail: specification.kernelImage))
    }
    var initrd: UnsafeRawBufferPointer? = nil
    if !specification.initrdImage.isEmpty && !specification.incoming {
      guard let found = images.contents(of: specification.initrdImage) else {
        return .failure(ControlFailure(.unknownImage, detail: specification.initrdImage))
      }
      initrd = found
    }
    // Its memory and the page tables mapping it, before any frame is taken.
    let pages = specification.memorySize / 4096
    guard pages + pages / 256 + 64 < UInt64(PhysicalFrames.freeFrames) else {
      return .failure(ControlFailure(.insufficientMemory))
    }
    var profile = VMProfile(name: specification.name)
    profile.memorySize = specification.memorySize
    profile.vcpuCount = Int(specification.vcpuCount)
    // One virtio-net NIC per MAC on the node's switch (docs/guest-io.md).
    profile.nicMACs = specification.nics
    profile.kind = specification.kind == .linux ? .linux : .flat
    if specification.kind == .linux {
      profile.guestCommandLine = specification.commandLine
    } else if !specification.commandLine.isEmpty {
      // A flat guest's command line carries where it loads and starts, in the boot-time
      // profile's words (docs/control-protocol.md): `load=0x7c00 entry=0000:7c00`.
      guard let placed = flatPlacement(specification.commandLine, name: specification.name) else {
        return .failure(
          ControlFailure(
            .invalidProfile,
            text: "a flat guest's command line takes only load=0xADDRESS and entry=SEGMENT:OFFSET"))
      }
      profile.loadAddress = placed.loadAddress
      profile.entrySegment = placed.entrySegment
      profile.entryOffset = placed.entryOffset
    }
    switch specification.scheduling {
    case .shared: profile.scheduling = .shared
    case .pinned:
      profile.scheduling = .pinned
      profile.pinnedCPUs = specification.pinnedCPUs.map { Int($0) }
    case .gang: profile.scheduling = .gang
    }
    // From its first byte: the history starts before its vCPUs can run.
    manager.console.startHistory(
      for: specification.name, keeping: manager.list().map { $0.name })
    var vmImages = VMImages(kernel: kernel, initrd: initrd)
    if !specification.diskImage.isEmpty, let storage = images.take(specification.diskImage) {
      // The transfer's frames become the VM's disk: no copy (docs/guest-io.md).
      profile.diskImage = specification.diskImage
      vmImages.transferredDisk = TransferredDisks.disk(from: storage, name: specification.diskImage)
    }
    // Claimed last, after every other check, so that only the manager can still refuse.
    if !specification.passthrough.isEmpty {
      var functions: [PassthroughFunction] = []
      for id in specification.passthrough {
        guard
          let function = PassthroughFunction(
            segment: id.segment, bus: id.bus, device: id.device, function: id.function)
        else { return .failure(ControlFailure(.invalidProfile, text: "a bad PCI function")) }
        functions.append(function)
      }
      if let why = PassthroughDevices.claim(functions, for: specification.name) {
        if let disk = vmImages.transferredDisk { TransferredDisks.free(disk) }
        return .failure(ControlFailure(.deviceUnavailable, detail: why))
      }
      profile.passthrough = functions
    }
    switch manager.create(profile, images: vmImages, incoming: specification.incoming) {
    case .failure(let refusal):
      PassthroughDevices.released(vm: specification.name)
      if let disk = vmImages.transferredDisk { TransferredDisks.free(disk) }
      return .failure(failure(refusal))
    case .success(let id):
      guard case .success(let status) = manager.status(id) else {
        return .failure(ControlFailure(.internalError, text: "the VM ended as it started"))
      }
      return .created(summary(status))
    }
  }

  /// `load=` and `entry=` (and nothing else), checked as the boot-time profile checks them.
  private func flatPlacement(_ words: [UInt8], name: [UInt8]) -> VMProfile? {
    var start = 0
    while start < words.count {
      var end = start
      while end < words.count && words[end] != UInt8(ascii: " ") { end += 1 }
      let word = words[start..<end]
      if !word.isEmpty && !word.starts(with: Array("load=".utf8))
        && !word.starts(with: Array("entry=".utf8))
      {
        return nil
      }
      start = end + 1
    }
    guard
      case .success(let parsed) = VMProfile.parse(
        Array("vm name=".utf8) + name + [UInt8(ascii: " ")] + words)
    else { return nil }
    return parsed
  }

  /// The state its vCPUs' CPUs captured when it paused (docs/vm-state.md): only a paused VM
  /// has one, as a running VM's state changes with every exit.
  private func savedState(of id: Int, lifecycle: VMLifecycle) -> Result<[UInt8], ControlFailure> {
    guard lifecycle == .paused else {
      return .failure(
        ControlFailure(
          .invalidState, text: "pause the VM first: its state is captured when it is paused"))
    }
    // The virtual IOMMU's registers and the edu device's are not in the saved format
    // (docs/virtual-iommu.md): such a VM is refused rather than restored without them.
    if let vm = manager.virtualMachine(id), vm.profile.virtualIOMMU || vm.profile.eduDevice {
      return .failure(
        ControlFailure(
          .notSupported,
          text:
            "a VM with iommu=vtd or edu=on cannot be checkpointed or migrated: their state is not saved"
        ))
    }
    guard let state = manager.virtualMachine(id)?.savedState else {
      return .failure(
        ControlFailure(
          .internalError, text: "a vCPU's state could not be captured when the VM paused"))
    }
    return .success(state)
  }

  private func command(_ name: [UInt8], _ body: (Int) -> Result<Void, ManagementRefusal>)
    -> Response
  {
    guard let id = manager.id(named: name) else { return unknown(name) }
    switch body(id) {
    case .success: return .done
    case .failure(let refusal): return .failure(failure(refusal))
    }
  }

  private func unknown(_ name: [UInt8]) -> Response {
    .failure(ControlFailure(.unknownVM, detail: name))
  }

  func failure(_ refusal: ManagementRefusal) -> ControlFailure {
    let code: StatusCode
    switch refusal {
    case .unknownVM: code = .unknownVM
    case .nameInUse: code = .nameInUse
    case .noFreeIdentity: code = .busy
    case .alreadyPaused, .notPaused, .stopping, .stillCreating, .stillResuming,
      .illegalTransition, .incoming:
      code = .invalidState
    case .placement: code = .insufficientCPUs
    case .invalid: code = .invalidProfile
    }
    return ControlFailure(code, detail: refusal.message.bytes)
  }

  private func state(_ lifecycle: VMLifecycle) -> VMState {
    switch lifecycle {
    case .creating: .starting
    case .incoming: .incoming
    case .running: .running
    case .pausing: .pausing
    case .paused: .paused
    case .stopping, .gone: .ended
    }
  }

  private func summary(_ status: VMStatus) -> VMSummary {
    VMSummary(
      id: UInt16(clamping: status.id), name: status.name, state: state(status.lifecycle),
      vcpuCount: UInt16(clamping: status.vcpus.count), memorySize: status.memoryBytes,
      uptimeMilliseconds: status.uptimeCycles / max(LocalAPIC.tscPerMillisecond, 1))
  }

  private func report(_ status: VMStatus, state excerpt: StateExcerpt?) -> ControlProtocol.VMStatus
  {
    var exits: [ControlProtocol.ExitCount] = []
    for kind in ExitKind.allCases where status.exits.count(kind) > 0 {
      guard exits.count < ProtocolLimits.maximumExitReasons else { break }
      exits.append(
        ControlProtocol.ExitCount(reason: kind.name.bytes, count: status.exits.count(kind)))
    }
    var refused: [ControlProtocol.RefusedMSR] = []
    if status.exits.refusedMSRAccesses > 0 {
      // The statistics keep the count and the last MSR refused, not one count per MSR.
      refused.append(
        ControlProtocol.RefusedMSR(
          msr: status.exits.lastRefusedMSR, count: status.exits.refusedMSRAccesses))
    }
    return ControlProtocol.VMStatus(
      summary: summary(status),
      uptimeMilliseconds: status.uptimeCycles / max(LocalAPIC.tscPerMillisecond, 1),
      vcpuCPUs: status.vcpus.map {
        $0.hostCPU < 0 ? ControlProtocol.VMStatus.notOnACPU : UInt16(clamping: $0.hostCPU)
      },
      exits: exits, refusedMSRs: refused, state: excerpt,
      passthrough: PassthroughDevices.functions(of: status.name).map {
        PCIFunctionID(segment: $0.segment, bus: $0.bus, device: $0.device, function: $0.function)
      })
  }

  /// The second status page: the disk's and NICs' counters with the VM's exits.
  private func ioReport(_ status: VMStatus) -> VMIOStatus {
    var disk: DiskCounters? = nil
    if let blk = status.disk {
      disk = DiskCounters(
        reads: blk.reads, writes: blk.writes, flushes: blk.flushes,
        otherRequests: blk.requests &- blk.reads &- blk.writes &- blk.flushes,
        bytesRead: blk.bytesRead, bytesWritten: blk.bytesWritten, ioErrors: blk.ioErrors,
        notifications: blk.notifications, queueFaults: blk.queueFaults)
    }
    return VMIOStatus(
      uptimeMilliseconds: status.uptimeCycles / max(LocalAPIC.tscPerMillisecond, 1),
      totalExits: status.exits.totalExits, disk: disk,
      nics: GuestNICs.nics(of: status.id).prefix(ProtocolLimits.maximumNICs).map {
        let counters = $0.counters
        return NICCounters(
          mac: EthernetFrame.bytes($0.mac), transmittedFrames: counters.transmittedFrames,
          transmittedBytes: counters.transmittedBytes, receivedFrames: counters.receivedFrames,
          receivedBytes: counters.receivedBytes, copies: counters.copies,
          copiedBytes: counters.copiedBytes, notifications: counters.notifications,
          droppedFrames: counters.totalDrops)
      })
  }
}
