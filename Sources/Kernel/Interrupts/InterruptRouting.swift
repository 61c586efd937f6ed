/// External interrupts that reach the hypervisor itself (vector 32 and up). The hypervisor
/// runs with interrupts masked outside guests, so any that arrive are logged and counted.
enum InterruptRouting {
  static var spurious: UInt64 = 0

  static func handle(vector: UInt8) {
    spurious &+= 1
    if Log.begin(.debug) {
      Console.write("unexpected interrupt, vector ")
      Console.write(decimal: UInt64(vector))
      Log.end()
    }
  }
}
