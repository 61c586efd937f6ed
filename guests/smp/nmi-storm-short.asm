; nmi-storm-short.asm -- nmi-storm.asm with 5,000 rounds, for Bochs: each round's NMIs, IPI
; and kicks cost about as much there as four rounds under QEMU, and the host's survival and
; the counts are checked the same way.
%define N_ROUNDS 5000
%include "../smp/nmi-storm.asm"  ; found through -I guests/include/
