/// How a VM's vCPUs share the machine's CPUs: the profile key `sched=`.
public enum SchedulingMode: Equatable {
  /// Today's round robin, per CPU; vCPUs go to the least-loaded CPUs and may move later.
  case shared
  /// Each vCPU owns a CPU: no other vCPU runs there, and no slice timer ticks while it runs.
  case pinned
  /// All vCPUs run at the same moment on distinct CPUs and are descheduled together; the
  /// CPUs may be shared with other gang VMs (in other time slots), never with pinned ones.
  case gang
}
