/// Guest RAM as a traced exit's handlers see it (`RecordingGuest.memoryView`): the VM's map,
/// with every range of up to 256 bytes it hands out copied into the exit's record first, as
/// it is before the handler may change it. Untraced exits use the map directly.
struct RecordingMemory: GuestMemoryView {
  let map: GuestMemoryMap
  let trace: ExitTraceRecorder

  func pointer(to guestPhysical: UInt64, length: UInt64) -> UnsafeMutableRawPointer? {
    let host = map.pointer(to: guestPhysical, length: length)
    if let host { trace.noteMemory(guestPhysical, host, length: length) }
    return host
  }

  var end: UInt64 { map.end }
}
