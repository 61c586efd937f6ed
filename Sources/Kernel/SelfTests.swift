import BootProtocols
import CArch

/// Deliberate faults the integration tests ask for on the command line
/// (`selftest=<name>`), to prove the protections and the exception reports work:
/// each one must end in an exception report, never in silence.
enum SelfTests {
  static func runRequested(commandLine: [UInt8]) {
    guard let name = KernelCommandLine.value(of: "selftest", in: commandLine) else { return }
    if Log.begin(.info) {
      Console.write("selftest: ")
      Console.write(bytes: name)
      Log.end()
    }
    switch name {
    case Array("write-text".utf8):
      // Kernel text is read-only: this must raise #PF (protection violation on write).
      let text = UnsafeMutablePointer<UInt8>(bitPattern: UInt(KernelLayout.text.start + 0x100))!
      text.pointee = 0xCC
    case Array("execute-data".utf8):
      // Data is non-executable: jumping into the heap must raise #PF on instruction fetch.
      let code = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
      code.initialize(repeating: 0xC3, count: 16)  // RET
      let function = unsafeBitCast(code, to: (@convention(c) () -> Void).self)
      function()
    case Array("stack-overflow".utf8):
      _ = recurse(1)
    case Array("panic".utf8):
      panic("panic requested by selftest")
    case Array("null".utf8):
      let pointer = UnsafeMutablePointer<UInt64>(bitPattern: 8)!
      pointer.pointee = 1
    case Array("ap-panic".utf8), Array("ap-stack-overflow".utf8):
      return  // CPU 1 runs these (runOnApplicationProcessor)
    default:
      Log.warning("unknown selftest; ignoring it")
      return
    }
    Log.error("selftest did not fault")
    Machine.halt(status: .failure)
  }

  /// The same faults on an application processor, CPU 1, before it comes online: its own
  /// stack guard, IST stacks and the panic path must work there too.
  static func runOnApplicationProcessor(index: Int, commandLine: [UInt8]) {
    guard index == 1, let name = KernelCommandLine.value(of: "selftest", in: commandLine) else {
      return
    }
    switch name {
    case Array("ap-panic".utf8):
      panic("panic requested by selftest on an application processor")
    case Array("ap-stack-overflow".utf8):
      _ = recurse(1)
    default:
      return
    }
  }

  /// After the APs were started: a fault requested on CPU 1 must end the run from there, so the
  /// bootstrap processor waits for it instead of racing it to the end of the boot VMs (on a
  /// loaded host CPU 1 may arrive after the online timeout and fault only later). Its fault
  /// halts the machine; if none comes within the bound, that is the selftest failing.
  static func awaitApplicationProcessorFault(commandLine: [UInt8]) {
    guard let name = KernelCommandLine.value(of: "selftest", in: commandLine),
      name == Array("ap-panic".utf8) || name == Array("ap-stack-overflow".utf8)
    else { return }
    let end = arch_rdtsc() &+ max(LocalAPIC.tscPerMillisecond, 1) &* faultWaitMilliseconds
    while arch_rdtsc() < end { arch_pause() }
    Log.error("selftest: cpu 1 did not fault")
    Machine.halt(status: .failure)
  }

  /// Generous: the guest's TSC runs at host speed under TCG while CPU 1's thread may wait.
  private static let faultWaitMilliseconds: UInt64 = 20_000

  /// Unoptimized so LLVM cannot turn the recursion into a loop: every call takes a frame.
  @_optimize(none)
  private static func recurse(_ depth: UInt64) -> UInt64 {
    let padding: (UInt64, UInt64, UInt64, UInt64) = (depth, depth, depth, depth)
    guard depth < UInt64.max else { return 0 }  // never true: keeps the compiler's recursion check quiet
    return recurse(depth &+ 1) &+ padding.3
  }
}
