; nmi-storm-short.asm -- nmi-storm.asm with 1,000 rounds, for Bochs: each round's NMIs, IPI
; and kicks cost about as much there as four rounds under QEMU, and the host's survival and
; the counts are checked the same way (5,000 rounds took ~35 s of a ~40 s case; Bochs has no
; multi-threaded TCG race to wait for: 1,000 rounds are still 3,000 NMIs and IPIs and as
; many kicks of vCPU 0's host CPU).
%define N_ROUNDS 1000
%include "../smp/nmi-storm.asm"  ; found through -I guests/include/
