import PeregrineProfiles

/// What a profile may describe but a node cannot run. Since issue 13 nodes run all of it:
/// the `<image>` disk (virtio-blk) and `<nicN>` NICs (virtio-net on the node's switch,
/// docs/guest-io.md). `validate` would warn about, and `create` refuse before anything is
/// sent, what this returns (docs/profiles.md).
enum NodeSupport {
  struct Refusal: Equatable {
    var message: String
    var hint: String
  }

  static func refusal(for profile: MachineProfile) -> Refusal? { nil }
}
