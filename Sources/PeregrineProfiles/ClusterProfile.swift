/// A virtual cluster: a set of VM profiles, each placed on a named node or left to the CLI
/// (the node with the most free memory).
///
///     <cluster>
///       <name>lab</name>
///       <node name="node0"/> <node name="node1"/>
///       <vm node="node0" file="linux.xml"/>
///       <vm node="node1"><profile>...</profile></vm>
///     </cluster>
public struct ClusterProfile: Equatable {
  public var name: String
  /// The nodes `<node name=>` declares; when there are any, every placement names one.
  public var nodes: [String]
  public var members: [ClusterProfile.Member]

  public struct Member: Equatable {
    public var profile: MachineProfile
    /// `node=`: where the VM runs; nil lets the CLI choose.
    public var node: String?
  }
}

public enum ClusterProfileParser {
  /// Reads a `<vm file=>` reference: the path as written and the position of its `<vm>`.
  public typealias Loader = (_ path: String, _ at: SourcePosition) -> Result<
    MachineProfile, ProfileErrors
  >

  public static func parse(
    _ root: XMLElementNode, file: String? = nil, files: ProfileFiles? = nil, load: Loader
  ) -> Result<ClusterProfile, ProfileErrors> {
    var reader = ElementReader(file: file, files: files)
    var diagnostics: [ProfileDiagnostic] = []
    guard root.name == "cluster" else {
      reader.report(
        .unknownElement, "the root element is <\(root.name)>; a virtual cluster is a <cluster>",
        at: root)
      return .failure(ProfileErrors(reader.diagnostics))
    }
    reader.checkAttributes(of: root, allowed: [])
    var name: String? = nil
    var nodes: [String] = []
    var nodeLines: [String: Int] = [:]
    var vmElements: [XMLElementNode] = []
    var nameElement: XMLElementNode?
    for child in root.children {
      switch child.name {
      case "name":
        if let first = nameElement {
          reader.report(
            .duplicate, "<name> is given twice in <cluster> (first on line \(first.position.line))",
            at: child)
          continue
        }
        nameElement = child
        let text = reader.leafText(child)
        if text.isEmpty || text.utf8.count > 31 || !text.utf8.allSatisfy(isNameCharacter) {
          reader.report(
            .invalidValue,
            "cluster name '\(abbreviated(text))' must be 1-31 characters of A-Z a-z 0-9 - _ .",
            at: child)
        } else {
          name = text
        }
      case "node":
        reader.checkAttributes(of: child, allowed: ["name"])
        _ = reader.leafText(child, allowedAttributes: ["name"])
        guard let nodeName = child.attribute("name"), !nodeName.isEmpty else {
          reader.report(
            .missingAttribute, "<node> has no name=\"...\" attribute, which is required", at: child)
          continue
        }
        if let line = nodeLines[nodeName] {
          reader.report(
            .duplicateName, "node '\(nodeName)' is declared twice (first on line \(line))",
            at: child)
          continue
        }
        nodeLines[nodeName] = child.position.line
        nodes.append(nodeName)
      case "vm":
        vmElements.append(child)
      default:
        reader.report(
          .unknownElement,
          "unknown element <\(child.name)> in <cluster>; expected <name>, <node> or <vm>", at: child
        )
      }
    }
    reader.checkNoText(in: root)
    if nameElement == nil {
      reader.report(.missingElement, "<cluster> has no <name>, which is required", at: root)
    }
    if vmElements.isEmpty {
      reader.report(
        .missingElement, "<cluster> has no <vm>; a virtual cluster is a set of VM profiles",
        at: root)
    }
    var members: [ClusterProfile.Member] = []
    var namesSeen: [String: Int] = [:]
    var macsSeen: [MACAddress: String] = [:]
    for element in vmElements {
      reader.checkAttributes(of: element, allowed: ["file", "node", "name"])
      let node = element.attribute("node")
      if let node, !nodes.isEmpty, nodeLines[node] == nil {
        reader.report(
          .unknownNode,
          "<vm node='\(node)'> names a node the cluster does not declare; declared: \(nodes.joined(separator: ", "))",
          at: element)
      }
      let inline = element.children.filter { $0.name == "profile" }
      for other in element.children where other.name != "profile" {
        reader.report(
          .unknownElement, "unknown element <\(other.name)> in <vm>; expected one <profile>",
          at: other)
      }
      reader.checkNoText(in: element)
      let loaded: Result<MachineProfile, ProfileErrors>
      switch (element.attribute("file"), inline.count) {
      case (let path?, 0):
        loaded = load(path, element.position)
      case (nil, 1):
        loaded = MachineProfileParser.parse(inline[0], file: file, files: files)
      case (nil, 0):
        reader.report(
          .missingElement, "<vm> has neither a file=\"PROFILE.xml\" nor an inline <profile>",
          at: element)
        continue
      default:
        reader.report(
          .conflict, "<vm> takes one profile: a file= attribute or one inline <profile>",
          at: element)
        continue
      }
      var profile: MachineProfile
      switch loaded {
      case .success(let machine): profile = machine
      case .failure(let errors):
        diagnostics += errors.diagnostics
        continue
      }
      if let rename = element.attribute("name") {
        if rename.isEmpty || rename.utf8.count > 31 || !rename.utf8.allSatisfy(isNameCharacter) {
          reader.report(
            .invalidValue,
            "<vm name='\(abbreviated(rename))'> must be 1-31 characters of A-Z a-z 0-9 - _ .",
            at: element)
          continue
        }
        profile.name = rename
      }
      if let line = namesSeen[profile.name] {
        reader.report(
          .duplicateName,
          "VM name '\(profile.name)' is used twice in the cluster (first by the <vm> on line \(line))",
          at: element)
        continue
      }
      namesSeen[profile.name] = element.position.line
      for nic in profile.nics {
        if let owner = macsSeen[nic.mac] {
          reader.report(
            .duplicate, "MAC address \(nic.mac) of VM '\(profile.name)' is also VM '\(owner)''s",
            at: element)
        } else {
          macsSeen[nic.mac] = profile.name
        }
      }
      members.append(ClusterProfile.Member(profile: profile, node: node))
    }
    diagnostics = reader.diagnostics + diagnostics
    guard diagnostics.isEmpty, let name else { return .failure(ProfileErrors(diagnostics)) }
    return .success(ClusterProfile(name: name, nodes: nodes, members: members))
  }
}
