; pinned-compute-short.asm -- pinned-compute.asm with 60 rounds, for Bochs
; (smp-pinned-short.iso, beside noisy-neighbour-short.asm): the work still outlasts the
; noisy VM's whole life, at 60% of the emulated time.
%define ROUNDS 60
%include "../smp/pinned-compute.asm"  ; found through -I guests/include/
