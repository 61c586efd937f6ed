import BootProtocols
import HypervisorCore

/// The hypervisor proper: picks the backend this CPU offers and runs the VMs.
enum Hypervisor {
  static func start(boot: BootInformation, features: CPUFeatures) -> Never {
    let vmxUsable = features.vmx.map { $0.extendedPageTables && !$0.lockedOff } ?? false
    let svmUsable = features.svm.map { $0.nestedPaging } ?? false
    guard vmxUsable || svmUsable else {
      Log.error("this CPU offers neither VMX with EPT nor SVM with nested paging: Peregrine cannot run guests here")
      Machine.halt(status: .failure)
    }
    Log.info(svmUsable ? "virtualization: AMD-V with nested paging" : "virtualization: Intel VT-x with EPT")
    Machine.halt(status: .success)
  }
}
