@testable import BootProtocols

/// A synthetic bzImage: a boot sector and setup sectors carrying the real-mode kernel header
/// at the offsets of Documentation/arch/x86/boot.rst, then a protected-mode kernel of
/// `kernelSize` bytes. Defaults resemble Debian's Linux 6.1 x86-64 kernel.
struct BzImageFixture {
  var setupSectors: UInt8 = 4
  var bootFlag: UInt16 = 0xAA55
  var jump: [UInt8] = [0xEB, 0x6A]  // header ends at 0x202 + 0x6A = 0x26C (protocol 2.15)
  var magic: [UInt8] = Array("HdrS".utf8)
  var version: UInt16 = 0x020F
  var loadFlags: UInt8 = 0x01
  var initrdAddressMax: UInt32 = 0x7FFF_FFFF
  var kernelAlignment: UInt32 = 0x20_0000
  var relocatable: UInt8 = 1
  var minimumAlignment: UInt8 = 21
  var extendedLoadFlags: UInt16 = 0x7F
  var commandLineSize: UInt32 = 2047
  var payloadOffset: UInt32 = 0x100
  var payloadLength: UInt32 = 0x800
  var preferredAddress: UInt64 = 0x100_0000
  var initSize: UInt32 = 0x200_0000
  var handoverOffset: UInt32 = 0x190
  var kernelSize = 0x1000
  /// Total length; nil for the setup sectors plus the kernel.
  var truncatedLength: Int? = nil

  var kernelOffset: Int { (Int(setupSectors == 0 ? 4 : setupSectors) + 1) * 512 }

  func build() -> [UInt8] {
    var image = [UInt8](repeating: 0, count: kernelOffset + kernelSize)
    image[0x1F1] = setupSectors
    image.storeLittleEndian(UInt16(0xFFFF), at: 0x1FA)
    image.storeLittleEndian(bootFlag, at: 0x1FE)
    image.store(jump, at: 0x200)
    image.store(magic, at: 0x202)
    image.storeLittleEndian(version, at: 0x206)
    image[0x211] = loadFlags
    image.storeLittleEndian(UInt32(0x10_0000), at: 0x214)
    image.storeLittleEndian(initrdAddressMax, at: 0x22C)
    image.storeLittleEndian(kernelAlignment, at: 0x230)
    image[0x234] = relocatable
    image[0x235] = minimumAlignment
    image.storeLittleEndian(extendedLoadFlags, at: 0x236)
    image.storeLittleEndian(commandLineSize, at: 0x238)
    image.storeLittleEndian(payloadOffset, at: 0x248)
    image.storeLittleEndian(payloadLength, at: 0x24C)
    image.storeLittleEndian(preferredAddress, at: 0x258)
    image.storeLittleEndian(initSize, at: 0x260)
    image.storeLittleEndian(handoverOffset, at: 0x264)
    for index in 0..<kernelSize { image[kernelOffset + index] = UInt8(truncatingIfNeeded: index) }
    if let truncatedLength { image = Array(image.prefix(truncatedLength)) }
    return image
  }

  func parse() throws(LinuxImageError) -> LinuxKernelImage {
    let bytes = build()
    do {
      return try bytes.withUnsafeBytes { buffer in try LinuxKernelImage(parsing: buffer) }
    } catch let error as LinuxImageError {
      throw error
    } catch {
      fatalError("unexpected error")
    }
  }
}
