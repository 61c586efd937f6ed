import PeregrineProfiles

/// What a profile may describe but a node cannot run yet: the seed's `<image>` disk and
/// `<nicN>` NICs need guest disk and NIC models, which come with issue 13. `validate`
/// warns about them; `create` refuses them before anything is sent (docs/profiles.md).
enum NodeSupport {
  struct Refusal: Equatable {
    var message: String
    var hint: String
  }

  static func refusal(for profile: MachineProfile) -> Refusal? {
    var parts: [String] = []
    var remove: [String] = []
    if let disk = profile.disk {
      parts.append("a disk image (<image size=\"\(disk.sizeMiB)\">\(disk.path)</image>)")
      remove.append("<image>")
    }
    // Guest NICs (<nicN>) run: virtio-net on the node's switch (docs/guest-io.md).
    guard !parts.isEmpty else { return nil }
    let file = profile.sourceFile.map { " in \($0)" } ?? ""
    let models = [profile.disk != nil ? "disk" : nil].compactMap { $0 }.joined(separator: " or ")
    return Refusal(
      message:
        "VM '\(profile.name)'\(file) has \(parts.joined(separator: " and ")); nodes have no guest \(models) model until issue 13",
      hint:
        "remove \(remove.joined(separator: ", ")) from the profile to run it now")
  }
}
