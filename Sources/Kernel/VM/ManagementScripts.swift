import BootProtocols
import CArch
import HypervisorCore
import Synchronization

/// Test hooks that drive the VM manager from the kernel command line, until the control
/// protocol does it over the network. Both run on CPU 0 between slices, as the control
/// server will, and print what they did on lines the integration tests read:
///
/// - `lifecycle_test=N lifecycle_vm=NAME`: the module whose profile is named NAME is not
///   started at boot; the script creates its VM and destroys it N times in a row (the first
///   time also paused, and with the bad commands refused), and prints the free physical
///   frames before and after, and the cycles from `create` to the first guest instruction.
/// - `manage_test=NAME,AFTER_MS,PAUSE_MS[,TEXT]`: AFTER_MS after VM NAME first ran (or
///   after its console printed a line containing TEXT, `_` for a space), pauses it, checks
///   that it runs no slice and makes no exit for PAUSE_MS, and unpauses it.
/// - `power_off_test=MS`: MS after boot, the control plane's power off: every VM still
///   running is ended, then the node powers off (a node that stays up, without `batch`).
enum ManagementScripts {
  struct Setup {
    let service: any NodeService
    /// The boot module the script creates its VM from, not started at boot.
    let heldModule: [UInt8]?
  }

  static func make<Backend: VirtualizationBackend>(
    boot: BootInformation, manager: VMManager<Backend>
  ) -> Setup? {
    let line = boot.commandLine
    if let count = KernelCommandLine.value(of: "lifecycle_test", in: line).flatMap(decimal) {
      guard let name = KernelCommandLine.value(of: "lifecycle_vm", in: line),
        let (profile, images) = VMLoader.heldModule(named: name, in: boot)
      else {
        Log.error("lifecycle_test: lifecycle_vm= names no module with a VM profile")
        return nil
      }
      return Setup(
        service: LifecycleTest(manager: manager, profile: profile, images: images, count: count),
        heldModule: name)
    }
    if let after = KernelCommandLine.value(of: "power_off_test", in: line).flatMap(decimal) {
      return Setup(
        service: PowerOffTest(manager: manager, after: UInt64(after)), heldModule: nil)
    }
    if let spec = KernelCommandLine.value(of: "manage_test", in: line) {
      let fields = spec.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
      guard fields.count >= 3, let after = decimal(Array(fields[1])),
        let pause = decimal(Array(fields[2]))
      else {
        Log.error("manage_test: expected NAME,AFTER_MS,PAUSE_MS[,TEXT]")
        return nil
      }
      var trigger: [UInt8]?
      if fields.count > 3 {
        trigger = fields[3].map { $0 == UInt8(ascii: "_") ? UInt8(ascii: " ") : $0 }
        manager.console.watch(for: trigger!, from: Array(fields[0]))
      }
      return Setup(
        service: ManageTest(
          manager: manager, name: Array(fields[0]), afterMilliseconds: UInt64(after),
          pauseMilliseconds: UInt64(pause), waitsForText: trigger != nil),
        heldModule: nil)
    }
    return nil
  }

  static func decimal(_ digits: [UInt8]) -> Int? {
    guard !digits.isEmpty, digits.count < 10 else { return nil }
    var value = 0
    for digit in digits {
      guard digit >= 0x30, digit <= 0x39 else { return nil }
      value = value * 10 + Int(digit - 0x30)
    }
    return value
  }

  static func milliseconds(_ count: UInt64) -> UInt64 { count &* LocalAPIC.tscPerMillisecond }

  /// "lifecycle: WHAT refused: MESSAGE"
  static func printRefusal(
    _ prefix: StaticString, _ what: StaticString, _ result: Result<Void, ManagementRefusal>
  ) {
    Log.begin(.info)
    Console.write(prefix)
    Console.write(what)
    switch result {
    case .success: Console.write(" accepted")
    case .failure(let refusal):
      Console.write(" refused: ")
      Console.write(refusal.message)
    }
    Log.end()
  }
}

/// Creates and destroys one VM `count` times (ManagementScripts).
final class LifecycleTest<Backend: VirtualizationBackend>: NodeService {
  private enum Step {
    case create
    case waitForEntry(Int)
    case waitForPause(Int)
    case waitUntilGone(Int)
  }

  let manager: VMManager<Backend>
  let profile: VMProfile
  let images: VMImages
  let count: Int
  private var step = Step.create
  private var cycle = 0
  private var framesBefore = 0
  private var pauseResult: Result<Void, ManagementRefusal>?
  private var entryCycles: (minimum: UInt64, maximum: UInt64, total: UInt64) = (.max, 0, 0)

  init(manager: VMManager<Backend>, profile: VMProfile, images: VMImages, count: Int) {
    self.manager = manager
    self.profile = profile
    self.images = images
    self.count = max(count, 1)
  }

  func poll(now: UInt64) -> UInt64? {
    let soon = now &+ max(LocalAPIC.tscPerMillisecond / 10, 1)
    switch step {
    case .create:
      if cycle == 0 { begin() }
      // Only the first and the last VM report; the others are counted in the summary.
      manager.quiet = cycle != 0 && cycle != count - 1
      switch manager.create(profile, images: images) {
      case .success(let id): step = .waitForEntry(id)
      case .failure(let refusal):
        Log.begin(.error)
        Console.write("lifecycle: create refused in cycle ")
        Console.write(decimal: UInt64(cycle))
        Console.write(": ")
        Console.write(refusal.message)
        Log.end()
        finish()
        return nil
      }
    case .waitForEntry(let id):
      guard let vm = manager.virtualMachine(id), let entered = vm.firstEntryTime else {
        return soon
      }
      let cycles = entered &- vm.createdAt
      entryCycles = (
        min(entryCycles.minimum, cycles), max(entryCycles.maximum, cycles),
        entryCycles.total &+ cycles
      )
      if cycle == 0 {
        refuseWhileRunning(id)
        pauseResult = manager.pause(id)
        step = .waitForPause(id)
      } else {
        _ = manager.destroy(id)
        step = .waitUntilGone(id)
      }
    case .waitForPause(let id):
      guard case .success(let status) = manager.status(id), status.lifecycle == .paused else {
        return soon
      }
      if let pauseResult { ManagementScripts.printRefusal("lifecycle: ", "pause", pauseResult) }
      Log.begin(.info)
      Console.write("lifecycle: status: ")
      status.write()
      Log.end()
      ManagementScripts.printRefusal("lifecycle: ", "pause of a paused VM", manager.pause(id))
      ManagementScripts.printRefusal("lifecycle: ", "destroy of a paused VM", manager.destroy(id))
      ManagementScripts.printRefusal("lifecycle: ", "second destroy", manager.destroy(id))
      step = .waitUntilGone(id)
    case .waitUntilGone(let id):
      guard case .failure = manager.status(id) else { return soon }
      if cycle == 0 {
        ManagementScripts.printRefusal("lifecycle: ", "pause of a gone VM", manager.pause(id))
        ManagementScripts.printRefusal("lifecycle: ", "destroy of a gone VM", manager.destroy(id))
      }
      cycle += 1
      if cycle == count {
        finish()
        return nil
      }
      step = .create
    }
    return soon
  }

  /// Frames before the first VM, and the commands refused with no VM at all.
  private func begin() {
    framesBefore = PhysicalFrames.freeFrames
    Log.begin(.info)
    Console.write("lifecycle: ")
    Console.write(decimal: UInt64(count))
    Console.write(" create/destroy cycles of vm ")
    Console.write(bytes: profile.name)
    Console.write("; physical frames free before: ")
    Console.write(decimal: UInt64(framesBefore))
    Log.end()
    ManagementScripts.printRefusal("lifecycle: ", "pause of unknown VM 200", manager.pause(200))
    ManagementScripts.printRefusal("lifecycle: ", "unpause of unknown VM 7", manager.unpause(7))
    ManagementScripts.printRefusal("lifecycle: ", "destroy of unknown VM -1", manager.destroy(-1))
  }

  /// Bad commands against a running VM: each refused, and no frame taken.
  private func refuseWhileRunning(_ id: Int) {
    let frames = PhysicalFrames.freeFrames
    func printCreate(_ what: StaticString, _ result: Result<Int, ManagementRefusal>) {
      ManagementScripts.printRefusal(
        "lifecycle: ", what, result.map { _ in () })
    }
    printCreate("create with a name in use", manager.create(profile, images: images))
    var unplaceable = profile
    unplaceable.name = Array("unplaceable".utf8)
    unplaceable.scheduling = .pinned
    unplaceable.pinnedCPUs = (0..<profile.vcpuCount).map { 99 + $0 }
    printCreate("create pinned to CPU 99", manager.create(unplaceable, images: images))
    var huge = profile
    huge.name = Array("huge".utf8)
    huge.memorySize = 1 << 40
    printCreate("create with 1 TiB of memory", manager.create(huge, images: images))
    ManagementScripts.printRefusal("lifecycle: ", "unpause of a running VM", manager.unpause(id))
    Log.begin(.info)
    Console.write("lifecycle: physical frames free around the refused commands: ")
    Console.write(decimal: UInt64(frames))
    Console.write(" before, ")
    Console.write(decimal: UInt64(PhysicalFrames.freeFrames))
    Console.write(" after")
    Log.end()
  }

  private func finish() {
    manager.quiet = false
    Log.begin(.info)
    Console.write("lifecycle: ")
    Console.write(decimal: UInt64(cycle))
    Console.write(" cycles done; physical frames free: ")
    Console.write(decimal: UInt64(framesBefore))
    Console.write(" before, ")
    Console.write(decimal: UInt64(PhysicalFrames.freeFrames))
    Console.write(" after")
    Log.end()
    if cycle > 0 {
      Log.begin(.info)
      Console.write("lifecycle: cycles from create to the first guest instruction: min ")
      Console.write(decimal: entryCycles.minimum)
      Console.write(", mean ")
      Console.write(decimal: entryCycles.total / UInt64(cycle))
      Console.write(", max ")
      Console.write(decimal: entryCycles.maximum)
      Log.end()
    }
    manager.serviceFinished()
  }
}

/// Pauses a running VM for a while, checks it cost nothing meanwhile, and resumes it
/// (ManagementScripts).
final class ManageTest<Backend: VirtualizationBackend>: NodeService {
  private enum Step {
    case waitForStart
    case waitForPause(Int)
    case paused(Int, until: UInt64, exits: UInt64, slices: UInt64)
  }

  let manager: VMManager<Backend>
  let name: [UInt8]
  let afterMilliseconds: UInt64
  let pauseMilliseconds: UInt64
  let waitsForText: Bool
  private var step = Step.waitForStart
  private var startedAt: UInt64?
  private var pauseResults: (Result<Void, ManagementRefusal>, Result<Void, ManagementRefusal>)?

  init(
    manager: VMManager<Backend>, name: [UInt8], afterMilliseconds: UInt64,
    pauseMilliseconds: UInt64, waitsForText: Bool
  ) {
    self.manager = manager
    self.name = name
    self.afterMilliseconds = afterMilliseconds
    self.pauseMilliseconds = pauseMilliseconds
    self.waitsForText = waitsForText
  }

  func poll(now: UInt64) -> UInt64? {
    let soon = now &+ max(LocalAPIC.tscPerMillisecond / 10, 1)
    switch step {
    case .waitForStart:
      guard let id = manager.id(named: name), let vm = manager.virtualMachine(id) else {
        ended()
        return nil
      }
      if startedAt == nil {
        if waitsForText {
          if manager.console.watchMatched.load(ordering: .acquiring) { startedAt = now }
        } else {
          startedAt = vm.firstEntryTime
        }
      }
      guard let start = startedAt, now &- start >= ManagementScripts.milliseconds(afterMilliseconds)
      else { return soon }
      // Printed once the VM is paused: a console line takes longer than parking a vCPU,
      // and would be counted in the pause latency.
      pauseResults = (manager.pause(id), manager.pause(id))
      step = .waitForPause(id)
    case .waitForPause(let id):
      guard case .success(let status) = manager.status(id) else {
        ended()
        return nil
      }
      guard status.lifecycle == .paused else { return soon }
      if let (first, second) = pauseResults {
        ManagementScripts.printRefusal("manage: ", "pause", first)
        ManagementScripts.printRefusal("manage: ", "pause again", second)
      }
      Log.begin(.info)
      Console.write("manage: status: ")
      status.write()
      Log.end()
      step = .paused(
        id, until: now &+ ManagementScripts.milliseconds(pauseMilliseconds),
        exits: status.exits.totalExits, slices: status.totalSliceCycles)
    case .paused(let id, let until, let exits, let slices):
      guard now >= until else { return until }
      guard case .success(let status) = manager.status(id) else {
        ended()
        return nil
      }
      Log.begin(.info)
      Console.write("manage: while paused for ")
      Console.write(decimal: pauseMilliseconds)
      Console.write(" ms: exits +")
      Console.write(decimal: status.exits.totalExits &- exits)
      Console.write(", slice cycles +")
      Console.write(decimal: status.totalSliceCycles &- slices)
      Log.end()
      ManagementScripts.printRefusal("manage: ", "unpause", manager.unpause(id))
      ManagementScripts.printRefusal("manage: ", "unpause again", manager.unpause(id))
      manager.serviceFinished()
      return nil
    }
    return soon
  }

  private func ended() {
    Log.begin(.error)
    Console.write("manage: vm ")
    Console.write(bytes: name)
    Console.write(" is not running: nothing to pause")
    Log.end()
    manager.serviceFinished()
  }
}

/// Powers the node off a while after boot, as the control plane's `node down` will
/// (ManagementScripts). The node counts as idle meanwhile: the summary and "waiting for
/// commands" come as they would without it.
final class PowerOffTest<Backend: VirtualizationBackend>: NodeService {
  let manager: VMManager<Backend>
  let after: UInt64
  private var deadline: UInt64?

  init(manager: VMManager<Backend>, after: UInt64) {
    self.manager = manager
    self.after = after
  }

  private var done = false

  func poll(now: UInt64) -> UInt64? {
    guard !done else { return nil }
    let due = deadline ?? now &+ ManagementScripts.milliseconds(after)
    deadline = due
    guard now >= due else { return due }
    done = true
    manager.powerOff()
    return nil
  }

  var holdsNode: Bool { false }
}
