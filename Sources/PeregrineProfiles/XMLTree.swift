import Foundation

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// A parsed XML element with the position of its start tag: the profile parsers walk this
/// tree, so every check can name the line it is about.
public struct XMLElementNode: Equatable, Sendable {
  public var name: String
  public var attributes: [(name: String, value: String)]
  public var children: [XMLElementNode]
  /// The element's own character data (CDATA included), untrimmed.
  public var text: String
  public var position: SourcePosition

  public func attribute(_ name: String) -> String? {
    attributes.first { $0.name == name }?.value
  }

  public var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

  public static func == (a: XMLElementNode, b: XMLElementNode) -> Bool {
    a.name == b.name && a.attributes.map(\.name) == b.attributes.map(\.name)
      && a.attributes.map(\.value) == b.attributes.map(\.value) && a.children == b.children
      && a.text == b.text && a.position == b.position
  }
}

/// Parses a document with Foundation's XMLParser (libxml2 underneath) into `XMLElementNode`s.
/// Document type declarations are refused before parsing: a profile needs none, and entity
/// expansion is the classic way to make an XML parser eat memory.
public enum XMLTreeParser {
  public static func parse(_ data: Data, file: String? = nil) -> Result<
    XMLElementNode, ProfileDiagnostic
  > {
    if let position = position(of: "<!DOCTYPE", in: data) ?? position(of: "<!ENTITY", in: data) {
      return .failure(
        ProfileDiagnostic(
          .malformedXML,
          "document type declarations (<!DOCTYPE>, <!ENTITY>) are not accepted in a profile",
          at: position, file: file))
    }
    let parser = XMLParser(data: data)
    let builder = TreeBuilder(parser: parser, source: [UInt8](data))
    parser.delegate = builder
    parser.shouldProcessNamespaces = false
    parser.shouldResolveExternalEntities = false
    let succeeded = parser.parse()
    if let failure = builder.failure {
      return .failure(
        ProfileDiagnostic(.malformedXML, failure.message, at: failure.position, file: file))
    }
    guard succeeded, let root = builder.root else {
      let position = SourcePosition(
        line: max(parser.lineNumber, 1), column: max(parser.columnNumber, 1))
      let reason =
        (parser.parserError as NSError?).map { describe($0) } ?? "the document has no root element"
      return .failure(
        ProfileDiagnostic(.malformedXML, "malformed XML: \(reason)", at: position, file: file))
    }
    return .success(root)
  }

  /// A sentence for libxml2's error code (xmlParserErrors, which FoundationXML passes on
  /// as the NSError's code).
  static func describe(_ error: NSError) -> String {
    switch error.code {
    case 4: return "the document is empty"
    case 5: return "the document ends before its root element is closed"
    case 9: return "the document contains a character XML does not allow"
    case 23: return "a character reference has no ';' ('&' must be written '&amp;')"
    case 26: return "an undeclared entity is referenced ('&' must be written '&amp;')"
    case 38: return "an attribute value contains '<' (write '&lt;')"
    case 39, 40: return "an attribute value is not quoted or not closed"
    case 41: return "an attribute has no value"
    case 42: return "an attribute is given twice in one tag"
    case 68: return "a name is missing (after '<' or '&'; '&' must be written '&amp;')"
    case 73: return "a tag is not closed with '>'"
    case 74: return "a closing tag '</' is expected"
    case 76: return "a closing tag does not match the element it closes"
    case 77: return "an element is not closed"
    case 80: return "a comment contains '--', which XML does not allow inside comments"
    case 86: return "there is content after the root element"
    default: return "XML parser error \(error.code)"
    }
  }

  /// Line and column (1-based) of the first occurrence of `needle` in `data`.
  static func position(of needle: String, in data: Data) -> SourcePosition? {
    let bytes = [UInt8](data)
    let pattern = [UInt8](needle.utf8)
    guard bytes.count >= pattern.count else { return nil }
    var line = 1
    var column = 1
    for start in 0...(bytes.count - pattern.count) {
      if bytes[start..<start + pattern.count].elementsEqual(pattern) {
        return SourcePosition(line: line, column: column)
      }
      if bytes[start] == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else {
        column += 1
      }
    }
    return nil
  }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
  struct Failure {
    var message: String
    var position: SourcePosition
  }

  let parser: XMLParser
  let source: [UInt8]
  /// The byte offset where each line starts.
  let lineStarts: [Int]
  var stack: [XMLElementNode] = []
  var root: XMLElementNode?
  var failure: Failure?

  init(parser: XMLParser, source: [UInt8]) {
    self.parser = parser
    self.source = source
    var starts = [0]
    for (offset, byte) in source.enumerated() where byte == UInt8(ascii: "\n") {
      starts.append(offset + 1)
    }
    lineStarts = starts
  }

  var here: SourcePosition {
    SourcePosition(line: max(parser.lineNumber, 1), column: max(parser.columnNumber, 1))
  }

  /// libxml2 reports a start tag where it ends (after its '>', maybe lines below its name);
  /// a user looks for the '<'. '<' cannot occur inside the tag (XML 1.0 section 3.1: not
  /// in attribute values), so the nearest '<' before the reported point is the tag's start.
  var tagStart: SourcePosition {
    let reported = here
    guard reported.line <= lineStarts.count else { return reported }
    var offset = min(lineStarts[reported.line - 1] + reported.column - 1, source.count - 1)
    while offset > 0 && source[offset] != UInt8(ascii: "<") { offset -= 1 }
    guard offset >= 0, offset < source.count, source[offset] == UInt8(ascii: "<") else {
      return reported
    }
    var line = lineStarts.count
    while line > 1 && lineStarts[line - 1] > offset { line -= 1 }
    return SourcePosition(line: line, column: offset - lineStarts[line - 1] + 1)
  }

  func parser(
    _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
  ) {
    // The dictionary loses the attributes' order; sort by name so diagnostics are stable.
    let attributes = attributeDict.sorted { $0.key < $1.key }.map {
      (name: $0.key, value: $0.value)
    }
    stack.append(
      XMLElementNode(
        name: elementName, attributes: attributes, children: [], text: "", position: tagStart))
  }

  func parser(
    _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?
  ) {
    guard let element = stack.popLast() else { return }
    if stack.isEmpty {
      root = element
    } else {
      stack[stack.count - 1].children.append(element)
    }
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    guard !stack.isEmpty else { return }
    stack[stack.count - 1].text += string
  }

  func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
    guard !stack.isEmpty else { return }
    stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
  }

  func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
    guard failure == nil else { return }
    failure = Failure(
      message: "malformed XML: \(XMLTreeParser.describe(parseError as NSError))", position: here)
  }
}
