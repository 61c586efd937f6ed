; init-sipi-storm-short.asm -- init-sipi-storm.asm with 800 rounds, for Bochs, where each
; round's MMIO exits and kicks cost about 50 times what they cost under QEMU.
%define STORM_ROUNDS 800
%include "../smp/init-sipi-storm.asm"  ; found through -I guests/include/
