; pause-flood-short.asm -- pause-flood.asm with 20,000 PAUSEs of each kind per vCPU, for Bochs,
; where every PAUSE exit costs far more real time than under QEMU (50,000 took ~30 s of a
; ~46 s case). The flood VMs still outlive the well-behaved VM beside flood-a several times
; over (its lifetime is ~15M cycles, theirs ~80M), and the checks are the same.
%define FLOOD_PAUSES 20000
%include "../smp/pause-flood.asm"  ; found through -I guests/include/
