/// The checks every profile element goes through, collecting diagnostics as it goes:
/// known attributes only, known children only and each at most once, no stray text.
struct ElementReader {
  let file: String?
  var diagnostics: [ProfileDiagnostic] = []
  /// Resolves a path written in the profile (relative paths against the profile's folder)
  /// and says whether a file is there; nil leaves paths as written and unchecked.
  var files: ProfileFiles?

  init(file: String?, files: ProfileFiles? = nil) {
    self.file = file
    self.files = files
  }

  /// `path` resolved; a missing file is reported at `element`.
  mutating func resolvedPath(_ path: String, for element: XMLElementNode) -> String {
    guard let files, !path.isEmpty else { return path }
    let resolved = files.resolve(path)
    if !files.exists(resolved) {
      report(
        .fileNotFound,
        "<\(element.name)> names \(path), and there is no such file (looked at \(resolved))",
        at: element)
    }
    return resolved
  }

  mutating func report(
    _ kind: ProfileDiagnostic.Kind, _ message: String, at element: XMLElementNode
  ) {
    diagnostics.append(ProfileDiagnostic(kind, message, at: element.position, file: file))
  }

  /// Reports every attribute of `element` not in `allowed`.
  mutating func checkAttributes(of element: XMLElementNode, allowed: [String]) {
    for attribute in element.attributes where !allowed.contains(attribute.name) {
      let expected =
        allowed.isEmpty
        ? "<\(element.name)> takes no attributes"
        : "<\(element.name)> takes \(allowed.map { "'\($0)'" }.joined(separator: ", "))"
      report(
        .unknownAttribute,
        "unknown attribute '\(attribute.name)' on <\(element.name)>; \(expected)", at: element)
    }
  }

  /// The children of a container element, by name, each known and given once. Unknown and
  /// repeated children are reported (the first of a repeated name is kept), as is text
  /// outside the children.
  mutating func children(
    of element: XMLElementNode, allowed: [String], alsoAllowed: (String) -> Bool = { _ in false },
    alsoAllowedDescription: String? = nil, repeatable: [String] = []
  ) -> [String: XMLElementNode] {
    var found: [String: XMLElementNode] = [:]
    for child in element.children {
      guard allowed.contains(child.name) || alsoAllowed(child.name) else {
        report(
          .unknownElement,
          "unknown element <\(child.name)> in <\(element.name)>; expected one of "
            + (allowed.map { "<\($0)>" } + (alsoAllowedDescription.map { [$0] } ?? [])).joined(
              separator: ", "),
          at: child)
        continue
      }
      if let first = found[child.name], !repeatable.contains(child.name) {
        report(
          .duplicate,
          "<\(child.name)> is given twice in <\(element.name)> (first on line \(first.position.line))",
          at: child)
        continue
      }
      found[child.name] = child
    }
    checkNoText(in: element)
    return found
  }

  mutating func checkNoText(in element: XMLElementNode) {
    if !element.trimmedText.isEmpty {
      report(
        .invalidValue,
        "unexpected text '\(abbreviated(element.trimmedText))' in <\(element.name)>; its content goes in child elements",
        at: element)
    }
  }

  /// The trimmed text of a leaf element; child elements inside it are reported.
  mutating func leafText(_ element: XMLElementNode, allowedAttributes: [String] = []) -> String {
    checkAttributes(of: element, allowed: allowedAttributes)
    for child in element.children {
      report(
        .unknownElement,
        "unexpected element <\(child.name)> inside <\(element.name)>, which holds text only",
        at: child)
    }
    return element.trimmedText
  }

  /// A required leaf's text, or nil (reported) when the element or its text is missing.
  mutating func requiredText(
    _ name: String, in parent: XMLElementNode, from children: [String: XMLElementNode],
    allowedAttributes: [String] = []
  ) -> String? {
    guard let element = children[name] else {
      report(.missingElement, "<\(parent.name)> has no <\(name)>, which is required", at: parent)
      return nil
    }
    let text = leafText(element, allowedAttributes: allowedAttributes)
    guard !text.isEmpty else {
      report(.missingElement, "<\(name)> is empty", at: element)
      return nil
    }
    return text
  }
}

func abbreviated(_ text: String, limit: Int = 40) -> String {
  text.count <= limit ? text : String(text.prefix(limit)) + "..."
}
