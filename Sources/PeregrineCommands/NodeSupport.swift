import PeregrineProfiles

/// What a profile may describe but a node cannot run yet: the seed's `<nicN>` NICs need the
/// guest NIC model of issue 13. `validate` warns about them; `create` refuses them before
/// anything is sent (docs/profiles.md). (`<image>` disks are sent from the image store.)
enum NodeSupport {
  struct Refusal: Equatable {
    var message: String
    var hint: String
  }

  static func refusal(for profile: MachineProfile) -> Refusal? {
    guard !profile.nics.isEmpty else { return nil }
    let elements = profile.nics.map { "<nic\($0.index)>" }
    let file = profile.sourceFile.map { " in \($0)" } ?? ""
    return Refusal(
      message:
        "VM '\(profile.name)'\(file) has guest NIC\(elements.count == 1 ? "" : "s") (\(elements.joined(separator: ", "))); nodes have no guest NIC model until issue 13",
      hint: "remove \(elements.joined(separator: ", ")) from the profile to run it now")
  }
}
