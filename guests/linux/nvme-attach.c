/* nvme-attach: one NVMe Namespace Attachment command (NVM Express 1.4 §5.19, admin opcode
 * 15h) through Linux's admin passthrough ioctl on a controller's character device, for the
 * SR-IOV case (docs/passthrough.md, "Missing" 5 and "NVMe admin guard"): what a guest owning
 * a VF tries against the namespaces of other controllers of the same subsystem (QEMU 7.2's
 * VF would do it; the node's guard answers Invalid Command Opcode, 0x4001). Built static into the test
 * initramfs by scripts/fetch-linux-fixtures.sh.
 *
 *   nvme-attach DEVICE attach|detach NSID CONTROLLER
 *
 * Prints one line, "NVME-ATTACH <attach|detach> nsid=N controller=C status=0x..." (the
 * completion's status field: 0 success, 0x118 already attached, 0x119 private, 0x11a not
 * attached, 0x11c controller list invalid, 0x1 invalid opcode), or "... error=<errno>"
 * when the ioctl itself failed. Exit status 0 when the command succeeded. */
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
  if (argc != 5 || (strcmp(argv[2], "attach") && strcmp(argv[2], "detach"))) {
    fprintf(stderr, "usage: nvme-attach DEVICE attach|detach NSID CONTROLLER\n");
    return 2;
  }
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) {
    printf("NVME-ATTACH %s open-error=%d\n", argv[2], errno);
    return 1;
  }
  /* The Controller List (§4.9): a count, then the controller identifiers. */
  static uint16_t list[2048];
  list[0] = 1;
  list[1] = (uint16_t)strtoul(argv[4], NULL, 0);
  struct passthru cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = 0x15;
  cmd.nsid = (uint32_t)strtoul(argv[3], NULL, 0);
  cmd.addr = (uint64_t)(uintptr_t)list;
  cmd.data_len = sizeof list;
  cmd.cdw10 = strcmp(argv[2], "attach") ? 1 : 0; /* SEL: 0h attach, 1h detach */
  int status = ioctl(fd, ADMIN_CMD, &cmd);
  if (status < 0) {
    printf("NVME-ATTACH %s nsid=%s controller=%s error=%d\n", argv[2], argv[3], argv[4], errno);
    return 1;
  }
  printf("NVME-ATTACH %s nsid=%s controller=%s status=0x%x\n", argv[2], argv[3], argv[4],
         status);
  return status == 0 ? 0 : 1;
}
