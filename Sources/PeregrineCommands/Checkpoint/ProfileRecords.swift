import Foundation
import PeregrineProfiles

/// The profile each VM was created from, kept in $PEREGRINE_HOME/profiles/NAME.xml by
/// `create`, so `checkpoint` can put it in the file (docs/checkpoint.md). A cluster member's
/// record is the whole cluster document; `machine(named:in:)` picks the member out.
enum ProfileRecords {
  static func file(_ name: String, in state: ClusterState) -> URL {
    state.directory.appendingPathComponent("profiles").appendingPathComponent("\(name).xml")
  }

  static func record(_ name: String, xml: Data, in state: ClusterState) throws {
    let url = file(name, in: state)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try xml.write(to: url, options: .atomic)
  }

  static func recorded(_ name: String, in state: ClusterState) -> Data? {
    FileManager.default.contents(atPath: file(name, in: state).path)
  }

  /// VM `name`'s profile out of a profile document (a <profile> or a <cluster>); files are
  /// not checked (a restored VM loads none).
  static func machine(named name: String?, in xml: Data) throws -> MachineProfile {
    switch ProfileLoader(checksFiles: false).parse(xml) {
    case .failure(let errors):
      throw CLIError(.noInput, "the checkpoint's profile does not parse: \(errors.description)")
    case .success(let document):
      let members = document.members
      if let name, let member = members.first(where: { $0.profile.name == name }) {
        return member.profile
      }
      if members.count == 1 { return members[0].profile }
      throw CLIError(.noInput, "the checkpoint's profile does not describe VM '\(name ?? "?")'")
    }
  }
}
