; ipi-storm.asm -- ipi-pingpong.asm with 3,000 round trips: each ping must reach vCPU 1
; exactly once and each answer vCPU 0 exactly once ("ipi-pings-received" counts them). An
; interrupt delivered twice (QEMU's TCG re-delivered an EVENTINJ interrupt when its thread
; was kicked right after the VMRUN: docs/smp.md) or lost fails it within a few thousand.
%define N_HLT  3000
%define N_SPIN 20
%include "../smp/ipi-pingpong.asm"  ; found through -I guests/include/
