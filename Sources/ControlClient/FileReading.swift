import Glibc

/// The whole file at `path`, or nil.
func readFile(_ path: String) -> [UInt8]? {
  guard let file = fopen(path, "rb") else { return nil }
  defer { fclose(file) }
  var contents: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 1 << 16)
  while true {
    let count = fread(&buffer, 1, buffer.count, file)
    if count > 0 { contents.append(contentsOf: buffer[..<count]) }
    if count < buffer.count {
      return ferror(file) == 0 ? contents : nil
    }
  }
}
