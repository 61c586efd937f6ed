/* nvme-virt: one NVMe Virtualization Management command (NVM Express 1.4 §5.22, admin
 * opcode 1Ch) through Linux's admin passthrough ioctl on the primary controller's character
 * device: what the node sends through the PF to bring a VF's secondary controller online
 * (Sources/Kernel/PCI/NVMeSecondaryControllers.swift), for the NVMe bench's native run on
 * a VF (init `nvmebenchvf=`, docs/passthrough.md "NVMe VF against native"). Built static into
 * the test initramfs by scripts/fetch-linux-fixtures.sh.
 *
 *   nvme-virt DEVICE ACTION RESOURCE CONTROLLER COUNT
 *
 * ACTION: 7 secondary offline, 8 secondary assign, 9 secondary online; RESOURCE: 0 VQ
 * (queues), 1 VI (interrupts). Prints "NVME-VIRT act=A rt=R cntlid=C nr=N status=0x..."
 * (or error=<errno>); exit status 0 when the command succeeded. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "nvme-passthru.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: nvme-virt DEVICE ACTION RESOURCE CONTROLLER COUNT\n");
    return 2;
  }
  unsigned act = strtoul(argv[2], NULL, 0), rt = strtoul(argv[3], NULL, 0);
  unsigned cntlid = strtoul(argv[4], NULL, 0), nr = strtoul(argv[5], NULL, 0);
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) {
    printf("NVME-VIRT act=%u open-error=%d\n", act, errno);
    return 1;
  }
  struct passthru cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = 0x1C;
  cmd.cdw10 = (act & 0xF) | (rt & 0x7) << 8 | cntlid << 16;
  cmd.cdw11 = nr & 0xFFFF;
  int status = ioctl(fd, ADMIN_CMD, &cmd);
  if (status < 0) {
    printf("NVME-VIRT act=%u rt=%u cntlid=%u nr=%u error=%d\n", act, rt, cntlid, nr, errno);
    return 1;
  }
  printf("NVME-VIRT act=%u rt=%u cntlid=%u nr=%u status=0x%x\n", act, rt, cntlid, nr, status);
  return status == 0 ? 0 : 1;
}
