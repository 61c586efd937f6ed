/// A hypervisor stack for one application processor: 64 KiB of physical frames, identity
/// mapped, with the frame below it left unmapped so an overflow faults (#PF, then #DF on
/// its IST stack) instead of overwriting memory.
struct CPUStack {
  static let pages = 16
  let guardPage: UInt64

  var bottom: UInt64 { guardPage + 4096 }
  var top: UInt64 { bottom + UInt64(Self.pages) * 4096 }

  /// Nil when memory runs out or the guard cannot be unmapped.
  static func allocate() -> CPUStack? {
    guard let base = PhysicalFrames.allocateZeroed(frames: pages + 1) else { return nil }
    do {
      try KernelPageTables.unmapPage(base)
    } catch {
      PhysicalFrames.free(base, frames: pages + 1)
      return nil
    }
    let stack = CPUStack(guardPage: base)
    KernelLayout.extraStacks.append((stack.bottom, stack.top))  // backtraces may walk it
    return stack
  }

  /// Gives an unused stack back: its guard page mapped again, its frames freed.
  func release() {
    KernelLayout.extraStacks.removeAll { $0.start == bottom }
    do {
      try KernelPageTables.remapPage(guardPage)
      PhysicalFrames.free(guardPage, frames: Self.pages + 1)
    } catch {
      PhysicalFrames.free(bottom, frames: Self.pages)  // keep the guard frame out of use
    }
  }
}
