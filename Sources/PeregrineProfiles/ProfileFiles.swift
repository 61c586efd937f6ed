import Foundation

/// How paths written in a profile are found: relative to the profile's own folder, so a
/// profile and its images can move together.
public struct ProfileFiles {
  public var directory: String
  public var exists: (String) -> Bool

  public init(
    directory: String,
    exists: @escaping (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
  ) {
    self.directory = directory
    self.exists = exists
  }

  /// The folder of `profilePath`, made absolute against the current directory.
  public init(besides profilePath: String) {
    let url = URL(fileURLWithPath: profilePath).deletingLastPathComponent()
    self.init(directory: url.path)
  }

  public func resolve(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    if path.hasPrefix("~/") {
      return FileManager.default.homeDirectoryForCurrentUser.path + path.dropFirst(1)
    }
    return URL(
      fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true)
    ).standardizedFileURL.path
  }
}
