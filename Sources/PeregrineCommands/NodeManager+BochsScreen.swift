import Foundation

/// Bochs' `term` display (this Bochs has no `nogui`, and `rfb` would listen on the network)
/// draws on a pseudo-terminal Bochs opens itself when its standard input is not a terminal,
/// and says which on its output: `Bochs connected to screen "/dev/pts/N"`. Nothing reads
/// that terminal: once its input buffer is full, Bochs blocks in write(2) on the master
/// and the whole node stops, its VMs and its network with it. A `node up` VT-x node did so
/// about five minutes after boot, in the middle of a migration's reads (docs/migration.md,
/// "VT-x"). So `node up` starts a reader that throws the screen away: `cat` on the
/// terminal, set raw first so nothing is echoed back to Bochs as keystrokes. It ends by
/// itself when Bochs closes the terminal (a read returns EIO), so `node down` need not
/// stop it.
extension NodeManager {
  /// The terminal named by the last `Bochs connected to screen` line of `output`, or nil.
  static func bochsScreen(inEmulatorOutput output: String) -> String? {
    let prefix = "Bochs connected to screen \""
    for line in output.split(separator: "\n").reversed() where line.hasPrefix(prefix) {
      let rest = line.dropFirst(prefix.count)
      guard let end = rest.firstIndex(of: "\""), rest[..<end].hasPrefix("/dev/pts/") else {
        return nil
      }
      let path = String(rest[..<end])
      // A terminal's name only: no quoting games when it reaches the shell below.
      guard path.dropFirst(9).allSatisfy(\.isNumber), path.count > 9 else { return nil }
      return path
    }
    return nil
  }

  /// Waits (at most `seconds`) for Bochs to name its screen in `emulatorLog` past `offset`
  /// (what an earlier start left there), then starts the reader. Nothing when Bochs never
  /// names one (an older Bochs, or a display that needs no reader).
  func drainBochsScreen(emulatorLog: String, after offset: Int, seconds: Double = 10) {
    var waited = 0.0
    while true {
      let data = FileManager.default.contents(atPath: emulatorLog) ?? Data()
      let output = String(decoding: data.dropFirst(offset), as: UTF8.self)
      if let screen = Self.bochsScreen(inEmulatorOutput: output) {
        _ = try? launcher.spawn(
          "/bin/sh", ["-c", "stty raw -echo < \(screen) && exec cat \(screen)"], "/dev/null")
        return
      }
      if waited >= seconds { return }
      environment.sleep(0.2)
      waited += 0.2
    }
  }
}
