/// One problem found in a profile, with where it is: `file:line:column: message`, the form
/// compilers use, so editors and terminals can jump to it.
public struct ProfileDiagnostic: Error, Equatable, CustomStringConvertible, Sendable {
  public enum Kind: String, Equatable, Sendable {
    case malformedXML = "malformed-xml"
    case unknownElement = "unknown-element"
    case unknownAttribute = "unknown-attribute"
    case missingElement = "missing-element"
    case missingAttribute = "missing-attribute"
    case duplicate = "duplicate"
    case invalidValue = "invalid-value"
    case outOfRange = "out-of-range"
    case invalidMAC = "invalid-mac"
    case unknownType = "unknown-type"
    case duplicateName = "duplicate-name"
    case unknownNode = "unknown-node"
    case fileNotFound = "file-not-found"
    case conflict = "conflict"
  }

  public var kind: Kind
  /// The profile's path as given, or nil for text parsed from memory.
  public var file: String?
  /// 1-based; 0 when the whole file is meant (it could not be read).
  public var line: Int
  public var column: Int
  public var message: String

  public init(_ kind: Kind, _ message: String, at position: SourcePosition, file: String? = nil) {
    self.kind = kind
    self.message = message
    self.line = position.line
    self.column = position.column
    self.file = file
  }

  public var description: String {
    "\(file ?? "<profile>"):\(line):\(column): error: \(message)"
  }
}

/// Where an element starts, as the XML parser reports it (1-based line and column).
public struct SourcePosition: Equatable, Sendable {
  public var line: Int
  public var column: Int
  public init(line: Int, column: Int) {
    self.line = line
    self.column = column
  }
  public static let wholeFile = SourcePosition(line: 0, column: 0)
}

/// Every problem found in one profile (validation goes on past the first one where it can,
/// so a user fixes them all in one round).
public struct ProfileErrors: Error, Equatable, CustomStringConvertible, Sendable {
  public var diagnostics: [ProfileDiagnostic]
  public init(_ diagnostics: [ProfileDiagnostic]) { self.diagnostics = diagnostics }
  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
