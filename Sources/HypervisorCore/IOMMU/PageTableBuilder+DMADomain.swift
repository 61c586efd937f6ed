import Memory

extension PageTableBuilder {
  /// A DMA-remapping domain's mappings, for either vendor's I/O page-table format: the VM's
  /// RAM read-write, then each read-only page (node memory a device may only read, such as
  /// an NVMe admin shadow ring) at an I/O address outside that RAM. A page that is not
  /// 4 KiB aligned or lies inside the RAM is `misaligned` / `alreadyMapped`.
  mutating func mapDMADomain<Frames: FrameSource>(
    _ map: GuestMemoryMap, readOnly: [(iova: UInt64, host: UInt64)], largestPage: PageSize,
    frames: inout Frames
  ) throws(PageTableError) {
    for region in map.regions {
      try self.map(
        virtual: region.guestPhysical, physical: region.hostAddress, length: region.size,
        permissions: [.read, .write], memoryType: .writeBack, largestPage: largestPage,
        frames: &frames)
    }
    for page in readOnly {
      guard page.iova & 0xFFF == 0, page.host & 0xFFF == 0 else { throw .misaligned }
      guard !map.regions.contains(where: { page.iova &- $0.guestPhysical < $0.size }) else {
        throw .alreadyMapped(page.iova)
      }
      try self.map(
        virtual: page.iova, physical: page.host, length: 4096, permissions: [.read],
        memoryType: .writeBack, largestPage: .size4K, frames: &frames)
    }
  }
}
