import CArch

/// Called by boot/interrupt_stubs.asm for every vector. An exception in the hypervisor is a
/// bug in the hypervisor: report everything that helps find it, then halt.
@_cdecl("peregrine_trap")
func peregrineTrap(_ frame: UnsafeMutablePointer<TrapFrame>) {
  let vector = frame.pointee.vector
  if vector >= 32 {
    InterruptRouting.handle(vector: UInt8(truncatingIfNeeded: vector))
    return
  }
  reportException(frame.pointee)
  Machine.halt(status: .panic)
}

private func reportException(_ frame: TrapFrame) {
  let cr2 = arch_read_cr2()
  ConsoleLock.acquire()  // held to the end: other CPUs' lines wait (reentrant here)
  Console.write("\n*** PEREGRINE EXCEPTION: ")
  Console.write(ExceptionVector.name(frame.vector))
  Console.write(" (vector ")
  Console.write(decimal: frame.vector)
  Console.write(") on cpu ")
  Console.write(decimal: UInt64(CPUs.currentIndex))
  Console.write("\n")
  field("error code", frame.error_code)
  field("rip", frame.rip)
  field("cr2", cr2)
  if frame.vector == UInt64(ExceptionVector.pageFault) {
    describePageFault(errorCode: frame.error_code, address: cr2)
  }
  // A stack overflow faults pushing the #PF frame onto the guard page: a double fault
  // on its own stack (IST1), with CR2 still naming the guard page.
  if frame.vector == UInt64(ExceptionVector.doubleFault) && inStackGuard(cr2) {
    Console.write("  cr2 is in the stack guard page: kernel stack overflow\n")
  }
  field("cs", frame.cs)
  field("rflags", frame.rflags)
  field("rsp", frame.rsp)
  field("ss", frame.ss)
  field("rax", frame.rax)
  field("rbx", frame.rbx)
  field("rcx", frame.rcx)
  field("rdx", frame.rdx)
  field("rsi", frame.rsi)
  field("rdi", frame.rdi)
  field("rbp", frame.rbp)
  field("r8", frame.r8)
  field("r9", frame.r9)
  field("r10", frame.r10)
  field("r11", frame.r11)
  field("r12", frame.r12)
  field("r13", frame.r13)
  field("r14", frame.r14)
  field("r15", frame.r15)
  field("cr0", arch_read_cr0())
  field("cr3", arch_read_cr3())
  field("cr4", arch_read_cr4())
  Backtrace.print(fromFramePointer: frame.rbp, firstAddress: frame.rip)
}

/// Page-fault error code bits (SDM 3A §4.7): P, W/R, U/S, RSVD, I/D.
private func describePageFault(errorCode: UInt64, address: UInt64) {
  Console.write("  page fault: ")
  Console.write(errorCode & 1 != 0 ? "protection violation" : "page not present")
  Console.write(
    errorCode & 2 != 0 ? " on write" : (errorCode & 16 != 0 ? " on instruction fetch" : " on read"))
  if errorCode & 8 != 0 { Console.write(", reserved bit set") }
  if inStackGuard(address) {
    Console.write(" -- in the stack guard page: kernel stack overflow")
  }
  Console.write("\n")
}

private func field(_ name: StaticString, _ value: UInt64) {
  Console.write(field: name, value, indent: 2)
}

/// The bootstrap processor's guard page or, on an application processor, its own.
private func inStackGuard(_ address: UInt64) -> Bool {
  if address >= KernelLayout.stackGuard && address < KernelLayout.stackGuard + 4096 { return true }
  guard arch_cpu_local_object() != 0 else { return false }  // before the CPU's block exists
  let guardPage = CPUs.current.stack.bottom &- 4096
  return address >= guardPage && address < guardPage + 4096
}
