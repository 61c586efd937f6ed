/// Intel VT-x: VMCS field encodings, control computation from the capability MSRs, and the
/// decoding of VM exits into HypervisorCore's `VMExit`.
public enum VMX {}
