import CArch

/// The one way the hypervisor gives up: say what is wrong, where it was, the backtrace,
/// then stop this CPU for good. Used for broken invariants of the hypervisor itself;
/// a misbehaving guest never reaches here (its VM is stopped instead).
func panic(_ message: StaticString, value: UInt64? = nil) -> Never {
  arch_cli()
  ConsoleLock.acquire()  // held to the end: other CPUs' lines wait (reentrant here)
  Console.write("\n*** PEREGRINE PANIC: ")
  Console.write(message)
  if let value {
    Console.write(" (")
    Console.write(hex: value)
    Console.write(")")
  }
  Console.write(" on cpu ")
  Console.write(decimal: UInt64(CPUs.currentIndex))
  Console.write("\n")
  Backtrace.print(fromFramePointer: arch_read_frame_pointer())
  Machine.halt(status: .panic)
}
