; noisy-neighbour-short.asm -- noisy-neighbour.asm with 1,500 rounds, for Bochs
; (smp-pinned-short.iso, beside pinned-compute-short.asm): it starts, storms and
; triple-faults while the pinned VM computes, as the full one does beside the full work.
%define NOISE_ROUNDS 1500
%include "../smp/noisy-neighbour.asm"  ; found through -I guests/include/
