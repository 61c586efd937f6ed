/* nvme-regs: a guest's attack on its own NVMe VF's register page (BAR0 0x0-0xFFF, NVM
 * Express 1.4 §3.1) through the function's sysfs resource0, for the SR-IOV case
 * (docs/passthrough.md, "NVMe admin guard"): the node traps that page, drops every write
 * to NSSR (0x20: "NVMe" there would reset every controller of the subsystem, the other
 * VM's too) and keeps ASQ (0x28) as the guest's. Run while Linux's nvme driver has the
 * controller enabled; every write leaves the controller as the driver set it. Built
 * static into the test initramfs by scripts/fetch-linux-fixtures.sh.
 *
 *   nvme-regs RESOURCE0      (e.g. /sys/class/nvme/nvme0/device/resource0)
 *
 * Prints, in order:
 *   NVME-REGS before cc=0x.. csts=0x.. aqa=0x.. asq=0x..(16 hex digits)
 *   NVME-REGS nssr writes=9 read=0x..      (NSSR as read after them)
 *   NVME-REGS asq wrote=0x.. read=0x.. qword=0x.. straddling=0x.. restored=0x..
 *   NVME-REGS after cc=0x.. csts=0x..
 * or "NVME-REGS error=<errno> at <step>". Needs `iomem=relaxed` on a kernel whose
 * IO_STRICT_DEVMEM keeps a driver's busy BAR from being mapped. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint8_t *bar;

/* One access of exactly the width asked (volatile: the compiler neither merges nor splits
 * them), at any offset: x86 makes an unaligned one a single instruction the node decodes. */
static uint32_t r32(unsigned at) { return *(volatile uint32_t *)(bar + at); }
static uint64_t r64(unsigned at) { return *(volatile uint64_t *)(bar + at); }
static void w8(unsigned at, uint8_t v) { *(volatile uint8_t *)(bar + at) = v; }
static void w16(unsigned at, uint16_t v) { *(volatile uint16_t *)(bar + at) = v; }
static void w32(unsigned at, uint32_t v) { *(volatile uint32_t *)(bar + at) = v; }
static void w64(unsigned at, uint64_t v) { *(volatile uint64_t *)(bar + at) = v; }

enum { CC = 0x14, CSTS = 0x1C, NSSR = 0x20, AQA = 0x24, ASQ = 0x28 };
static const uint32_t nvme = 0x4E564D65; /* "NVMe" (§3.1.6) */

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: nvme-regs RESOURCE0\n");
    return 2;
  }
  int fd = open(argv[1], O_RDWR | O_SYNC);
  if (fd < 0) {
    printf("NVME-REGS error=%d at open\n", errno);
    return 1;
  }
  void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    printf("NVME-REGS error=%d at mmap\n", errno);
    return 1;
  }
  bar = map;
  uint32_t cc = r32(CC), csts = r32(CSTS);
  uint64_t asq = (uint64_t)r32(ASQ + 4) << 32 | r32(ASQ);
  printf("NVME-REGS before cc=0x%x csts=0x%x aqa=0x%x asq=0x%016llx\n", cc, csts, r32(AQA),
         (unsigned long long)asq);

  /* NVM Subsystem Reset, nine ways: a dword; "NVMe" byte by byte and as two words; a qword
   * from CSTS (written 0: its only writable bit, NSSRO, is write-one-to-clear); a dword
   * straddling CSTS and NSSR. */
  w32(NSSR, nvme);
  for (unsigned i = 0; i < 4; i++) w8(NSSR + i, (uint8_t)(nvme >> (8 * i)));
  w16(NSSR, (uint16_t)nvme);
  w16(NSSR + 2, (uint16_t)(nvme >> 16));
  w64(CSTS, (uint64_t)nvme << 32);
  w32(CSTS + 2, nvme << 16);
  printf("NVME-REGS nssr writes=9 read=0x%x\n", r32(NSSR));

  /* ASQ byte-written (a value the device must never see), read back as a dword, as a qword
   * and straddling from AQA, then restored byte by byte and one word of its high half. */
  uint8_t old = (uint8_t)(asq >> 8);
  w8(ASQ + 1, old ^ 0xA5);
  uint32_t wrote = (uint32_t)asq ^ 0xA500;
  uint32_t read = r32(ASQ);
  uint64_t qword = r64(ASQ);
  uint64_t straddling = r64(AQA);
  w8(ASQ + 1, old);
  w16(ASQ + 6, (uint16_t)(asq >> 48));
  /* A word at 0x13 crossing into CC: INTMC's top byte 0 (no effect) and CC's low byte as it
   * is (EN stays 1). */
  w16(CC - 1, (uint16_t)((cc & 0xFF) << 8));
  uint64_t restored = (uint64_t)r32(ASQ + 4) << 32 | r32(ASQ);
  printf("NVME-REGS asq wrote=0x%x read=0x%x qword=0x%016llx straddling=0x%016llx"
         " restored=0x%016llx\n",
         wrote, read, (unsigned long long)qword, (unsigned long long)straddling,
         (unsigned long long)restored);
  printf("NVME-REGS after cc=0x%x csts=0x%x\n", r32(CC), r32(CSTS));
  return 0;
}
