; cpuid-loop.asm -- a benchmark-like loop of 150,000 CPUID exits at one RIP, each one
; completing. Completed instructions are progress: the exit-storm detector (100,000 exits in
; a row at one instruction without completing it) must not stop this VM.
; PASS cpuid-loop-not-stopped; DONE failures=0; exit code 0. CPUID_LOOPS sets the count
; (cpuid-loop-short.asm: a traced guest for Bochs, where the storm detector is not the point).

%include "lib.inc"
%include "pmode.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO cpuid-loop starting", 10
%ifndef CPUID_LOOPS
%define CPUID_LOOPS 150000
%endif
    mov esi, CPUID_LOOPS
.loop:
    xor eax, eax
    cpuid
    dec esi
    jnz .loop
    cmp esi, 0
    CHECK e, "cpuid-loop-not-stopped"
    jmp finish

    EMIT_LIB
