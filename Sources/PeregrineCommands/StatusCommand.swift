import ArgumentParser
import Foundation

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract:
      "A VM's state, vCPUs and the cores they run on, memory, uptime, exits per reason, refused MSRs.",
    discussion:
      "Without VM, every VM of every node. --state adds the saved state: each vCPU's architectural record and each device model's value."
  )

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM's name (all VMs when left out).") var vm: String?
  @Flag(
    name: .long,
    help: "Also print the vCPUs' architectural state and the device models' saved state.")
  var state = false

  func run() throws {
    let environment = CLIEnvironment.current
    let session = try ClusterSession(environment: environment)
    var reports: [StatusReport] = []
    var unreachable: [(NodeRecord, CLIError)] = []
    if let vm {
      let (node, connection, _) = try session.locate(vm)
      reports.append(
        StatusReport(
          node: node.name,
          status: try environment.request {
            try connection.machineStatus(named: vm, includingState: state)
          }))
    } else {
      let listing = try session.machinesByNode()
      unreachable = listing.unreachable
      for (node, machines) in listing.found {
        let connection = try session.connection(to: node)
        for machine in machines {
          let status = try environment.request {
            try connection.machineStatus(named: machine.name, includingState: state)
          }
          reports.append(StatusReport(node: node.name, status: status))
        }
      }
    }
    if options.json {
      environment.printJSON(vm == nil ? AnyStatus.all(reports) : AnyStatus.one(reports[0]))
    } else if reports.isEmpty {
      environment.output("no VMs\n")
    } else {
      environment.output(reports.map { StatusText.render($0) }.joined(separator: "\n"))
    }
    if let error = session.reportUnreachable(unreachable) { throw error }
  }
}

struct StatusReport: Encodable {
  var node: String
  var status: MachineStatus
}

/// `status VM --json` is one object; `status --json` is {"machines": [...]}.
enum AnyStatus: Encodable {
  case one(StatusReport)
  case all([StatusReport])

  func encode(to encoder: Encoder) throws {
    switch self {
    case .one(let report): try report.encode(to: encoder)
    case .all(let reports):
      var container = encoder.container(keyedBy: Key.self)
      try container.encode(reports, forKey: .machines)
    }
  }

  enum Key: String, CodingKey { case machines }
}

enum StatusText {
  static func render(_ report: StatusReport) -> String {
    let status = report.status
    let summary = status.summary
    var text =
      "\(summary.name) on \(report.node): \(summary.state.rawValue), up \(Formatting.seconds(summary.uptimeSeconds))\n"
    text += "  memory  \(Formatting.bytes(summary.memory))\n"
    text += "  vcpus   \(summary.vcpus)\n"
    for vcpu in status.vcpus {
      text += "    vcpu \(vcpu.index)  cpu \(vcpu.cpu)  \(vcpu.state)\n"
    }
    let total = status.exits.reduce(0) { $0 + $1.count }
    text += "  exits   \(total)\n"
    let width = status.exits.map(\.reason.count).max() ?? 0
    for exit in status.exits.sorted(by: { $0.count > $1.count }) {
      text +=
        "    \(exit.reason.padding(toLength: width, withPad: " ", startingAt: 0))  \(exit.count)\n"
    }
    if status.refusedMSRs.isEmpty {
      text += "  refused MSRs  none\n"
    } else {
      text += "  refused MSRs\n"
      for msr in status.refusedMSRs {
        text +=
          "    \(Formatting.hex(UInt64(msr.msr), width: 32)) \(msr.write ? "write" : "read ")  \(msr.count)\n"
      }
    }
    if let disk = status.disk { text += render(disk, exits: status.ioExits) }
    for (index, nic) in status.nics.enumerated() {
      let frames = nic.frames
      text +=
        "  nic\(index)    \(nic.mac)  sent \(nic.sentFrames) frames \(nic.sentBytes) bytes, received \(nic.receivedFrames) frames \(nic.receivedBytes) bytes, copied \(nic.copiedBytes) bytes\(frames > 0 ? " (\(nic.copiedBytes / frames) per frame)" : ""), dropped \(nic.droppedFrames)\n"
      text +=
        "          \(nic.copies) copies (\(ratio(nic.copies, frames)) per frame), \(nic.notifications) doorbell exits (\(ratio(nic.notifications, frames)) per frame), \(ratio(status.ioExits, frames)) VM exits per frame since start\n"
    }
    for function in status.passthrough {
      text += "  passthrough  pci \(function) (owned by this VM)\n"
    }
    for section in status.savedState ?? [] { text += render(section) }
    return text
  }

  /// The disk's lines. Doorbell exits are the exits the device itself took (one per queue
  /// notification); "VM exits per request since start" divides every exit of the VM by the
  /// requests, so it also counts timer, boot and idle exits: an upper bound, which
  /// `make bench` refines by difference (docs/guest-io.md, "Counting").
  static func render(_ disk: DiskStatus, exits: UInt64) -> String {
    let requests = disk.requests
    var text =
      "  disk    \(requests) requests: \(disk.reads) reads, \(disk.writes) writes, \(disk.flushes) flushes, \(disk.otherRequests) other; \(disk.bytesRead) bytes read, \(disk.bytesWritten) written; \(disk.ioErrors) I/O errors\n"
    text +=
      "          \(disk.notifications) doorbell exits (\(ratio(disk.notifications, requests)) per request), \(ratio(exits, requests)) VM exits per request since start\n"
    if disk.queueFaults > 0 { text += "          \(disk.queueFaults) queue faults\n" }
    return text
  }

  /// `part / whole` with two decimals; "-" when there is no whole.
  static func ratio(_ part: UInt64, _ whole: UInt64) -> String {
    guard whole > 0 else { return "-" }
    return String(format: "%.2f", Double(part) / Double(whole))
  }

  /// One saved-state section: a field per line, except that fields named `group.part`
  /// (a segment's selector, base, limit, attributes) share their group's line; then the
  /// notes.
  static func render(_ section: StateSection) -> String {
    var lines: [(label: String, value: String)] = []
    for field in section.fields {
      let value = Formatting.hex(field.value, width: field.width)
      if let dot = field.name.firstIndex(of: ".") {
        let group = String(field.name[..<dot])
        let part = "\(field.name[field.name.index(after: dot)...])=\(value)"
        if let last = lines.indices.last, lines[last].label == group {
          lines[last].value += " " + part
        } else {
          lines.append((group, part))
        }
      } else {
        lines.append((field.name, value))
      }
    }
    let width = lines.map(\.label.count).max() ?? 0
    var text = "  \(section.title)\n"
    for line in lines {
      text +=
        "    \(line.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(line.value)\n"
    }
    for note in section.notes { text += "    \(note)\n" }
    return text
  }
}
