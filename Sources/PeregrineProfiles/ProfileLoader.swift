import Foundation

/// What a profile file holds: one VM, or a virtual cluster of them.
public enum ProfileDocument: Equatable {
  case machine(MachineProfile)
  case cluster(ClusterProfile)

  /// The VMs, each with its placement (a single VM has none).
  public var members: [ClusterProfile.Member] {
    switch self {
    case .machine(let profile): return [ClusterProfile.Member(profile: profile, node: nil)]
    case .cluster(let cluster): return cluster.members
    }
  }
}

/// Reads profile files: parses the XML, picks the VM or cluster parser by the root element,
/// and follows a cluster's `<vm file=>` references (relative to the cluster's file).
public struct ProfileLoader {
  /// Whether the kernel, initrd, flat and disk files a profile names must exist.
  public var checksFiles: Bool

  public init(checksFiles: Bool = true) { self.checksFiles = checksFiles }

  /// Paths resolve against the profile's folder either way; their files are looked for only
  /// when `checksFiles`.
  func files(besides path: String) -> ProfileFiles {
    var files = ProfileFiles(besides: path)
    if !checksFiles { files.exists = { _ in true } }
    return files
  }

  public func load(path: String) -> Result<ProfileDocument, ProfileErrors> {
    load(path: path, referencedFrom: nil)
  }

  func load(path: String, referencedFrom: (file: String?, at: SourcePosition)?) -> Result<
    ProfileDocument, ProfileErrors
  > {
    guard let data = FileManager.default.contents(atPath: path) else {
      var isDirectory: ObjCBool = false
      let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
      let reason =
        !exists ? "no such file" : isDirectory.boolValue ? "it is a directory" : "it cannot be read"
      let diagnostic =
        if let referencedFrom {
          ProfileDiagnostic(
            .fileNotFound, "cannot read the VM profile \(path): \(reason)", at: referencedFrom.at,
            file: referencedFrom.file)
        } else {
          ProfileDiagnostic(
            .fileNotFound, "cannot read the profile: \(reason)", at: .wholeFile, file: path)
        }
      return .failure(ProfileErrors([diagnostic]))
    }
    return parse(
      data, file: path, files: files(besides: path),
      referenced: referencedFrom != nil)
  }

  /// Parses a profile held in memory. `files` resolves and checks the paths it names (nil:
  /// as written, unchecked); a cluster's file references resolve against it too.
  public func parse(_ data: Data, file: String? = nil, files: ProfileFiles? = nil) -> Result<
    ProfileDocument, ProfileErrors
  > {
    parse(data, file: file, files: files, referenced: false)
  }

  /// `referenced`: the file is a cluster's `<vm file=>`, which must be a VM profile; its root
  /// is checked before anything is followed, so a cluster naming itself ends there.
  func parse(_ data: Data, file: String?, files: ProfileFiles?, referenced: Bool) -> Result<
    ProfileDocument, ProfileErrors
  > {
    let root: XMLElementNode
    switch XMLTreeParser.parse(data, file: file) {
    case .success(let tree): root = tree
    case .failure(let diagnostic): return .failure(ProfileErrors([diagnostic]))
    }
    if referenced && root.name != "profile" {
      return .failure(
        ProfileErrors([
          ProfileDiagnostic(
            .unknownElement,
            "the root element is <\(root.name)>; a cluster's <vm file=> names a VM <profile>",
            at: root.position,
            file: file)
        ]))
    }
    switch root.name {
    case "profile":
      return MachineProfileParser.parse(root, file: file, files: files).map(ProfileDocument.machine)
    case "cluster":
      let base =
        files ?? file.map { ProfileFiles(besides: $0) }
        ?? ProfileFiles(directory: FileManager.default.currentDirectoryPath)
      return ClusterProfileParser.parse(root, file: file, files: files) { path, position in
        let resolved = base.resolve(path)
        switch self.load(path: resolved, referencedFrom: (file, position)) {
        case .success(.machine(let profile)): return .success(profile)
        case .success(.cluster):
          return .failure(
            ProfileErrors([
              ProfileDiagnostic(
                .conflict, "\(path) is a <cluster>; a <vm file=> names a VM <profile>",
                at: position, file: file)
            ]))
        case .failure(let errors): return .failure(errors)
        }
      }.map(ProfileDocument.cluster)
    default:
      return .failure(
        ProfileErrors([
          ProfileDiagnostic(
            .unknownElement,
            "the root element is <\(root.name)>; a profile is a <profile> (one VM) or a <cluster>",
            at: root.position, file: file)
        ]))
    }
  }
}
