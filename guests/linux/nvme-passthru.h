/* struct nvme_passthru_cmd and NVME_IOCTL_ADMIN_CMD of <linux/nvme_ioctl.h>, spelled out so
 * the initramfs's static NVMe tools (nvme-attach.c, nvme-virt.c) build without kernel
 * headers. */
#ifndef NVME_PASSTHRU_H
#define NVME_PASSTHRU_H
#include <stdint.h>
#include <sys/ioctl.h>

struct passthru {
  uint8_t opcode, flags;
  uint16_t rsvd1;
  uint32_t nsid, cdw2, cdw3;
  uint64_t metadata, addr;
  uint32_t metadata_len, data_len;
  uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
  uint32_t timeout_ms, result;
};
#define ADMIN_CMD _IOWR('N', 0x41, struct passthru)
#endif
