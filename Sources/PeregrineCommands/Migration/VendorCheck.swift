import ControlProtocol

/// A VM's state moves only between nodes of one vendor (docs/migration.md, "Between
/// vendors"): the vCPUs run from a VMCB on AMD-V and a VMCS on VT-x, whose controls, exit
/// handling and MSR policies differ (APM §15.5, SDM 3C §25), and CPUID and the guest's own
/// view of the CPU change with the vendor, so a VM saved under one is refused under the
/// other before anything moves. `migrate` and `restore` ask here. A node's own answer
/// (`nodeInfo`'s backend) decides over the CLI's record of it: `node up` wrote the record,
/// and a table edited by hand or a node restarted outside the CLI can make it wrong.
enum VendorCheck {
  /// One node as the check sees it: its name, the backend the CLI recorded, and the one it
  /// answered with (nil before it is asked, or from a connection that does not say).
  struct Node {
    var name: String
    var recorded: Backend
    var answered: Backend?

    init(_ record: NodeRecord, answered: Backend? = nil) {
      self.init(name: record.name, recorded: record.backend, answered: answered)
    }

    init(name: String, recorded: Backend, answered: Backend? = nil) {
      self.name = name
      self.recorded = recorded
      self.answered = answered
    }

    var backend: Backend { answered ?? recorded }

    /// "node1 is vmx (VT-x)", with the record when the node says otherwise.
    var described: String {
      var words = "\(name) is \(VendorCheck.describe(backend))"
      if let answered, answered != recorded {
        words += " (it says so; the CLI's record says \(recorded.rawValue))"
      }
      return words
    }
  }

  /// Why `vm` may not move from `source` to `target`, or nil when both are of one vendor.
  static func migrationRefusal(vm: String, from source: Node, to target: Node) -> String? {
    guard source.backend != target.backend else { return nil }
    return
      "\(source.described) and \(target.described): \(vm)'s vCPU state (VMCB or VMCS) runs only under the vendor that saved it; nothing moved"
  }

  /// Why a checkpoint taken on a `backend` node (the file's metadata) may not be restored
  /// on `target`, or nil.
  static func restoreRefusal(file: String, backend: String, vendor: String, on target: Node)
    -> String?
  {
    guard target.backend.rawValue != backend else { return nil }
    return
      "\(file) was taken on a \(backend) (\(vendor)) node and \(target.described): a VM's state moves only between nodes of one vendor; nothing was sent"
  }

  /// A node's answer in the CLI's terms.
  static func backend(_ answered: NodeInfo.Backend) -> Backend {
    switch answered {
    case .svm: return .svm
    case .vmx: return .vmx
    }
  }

  static func describe(_ backend: Backend) -> String {
    switch backend {
    case .svm: return "svm (AMD-V)"
    case .vmx: return "vmx (VT-x)"
    }
  }
}
