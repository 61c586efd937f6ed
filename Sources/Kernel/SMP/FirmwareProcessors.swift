import BootProtocols

/// The processors the firmware's MADT lists, in its order (ACPI 6.4 §5.2.12): recorded by
/// AcpiPower.discover, read when the application processors are started (and by topology).
enum FirmwareProcessors {
  static var listed: [ACPIProcessor] = []
}
