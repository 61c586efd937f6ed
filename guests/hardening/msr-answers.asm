; msr-answers.asm -- the architectural answers to RDMSR/WRMSR and the CPUID bits behind them,
; on the vendor it runs on (docs/guest-abi.md, "CPUID and MSRs together").
;
; 32-bit protected mode, IDT from exceptions.inc (expected #GP recorded). Checks:
;   tsc-write-no-gp            WRMSR IA32_TSC (0x10) = 0x100_00000000 is accepted
;   tsc-write-rdtsc-high       RDTSC right after reads EDX = 0x100 ...
;   tsc-write-rdtsc-close      ... and EAX < 0x10000000: the written value, plus the exit
;   tsc-write-monotonic        a second RDTSC is not below the first
;   tsc-write-rdmsr            RDMSR IA32_TSC agrees (EDX = 0x100)
;   tsc-write-lower            WRMSR IA32_TSC = 0x1000 (below the host's TSC): RDTSC reads
;                              EDX = 0, 0x1000 <= EAX < 0x10000000
;   tsc-write-lower-monotonic  and counts on upwards
;   undefined-rdmsr-gp         RDMSR 0x1234 (no such MSR): #GP
;   undefined-wrmsr-gp         WRMSR 0x1234: #GP
;   pmc0-gp                    RDMSR IA32_PMC0 (0xC1): #GP (no PMU: CPUID leaf 0xA is 0)
;   efer-lmsle-gp              WRMSR EFER with LMSLE (13), which neither CPU offers: #GP
;   cpuid-no-arch-perfmon      CPUID leaf 0xA EAX = 0
;   perf-capabilities-matches-pdcm  RDMSR 0x345 faults exactly when CPUID.1:ECX[15] is clear
;   mcg-cap-with-mca           with CPUID.1:EDX[14] (MCA): RDMSR MCG_CAP does not fault
;   mtrr-def-type              with CPUID.1:EDX[12] (MTRR): MTRRdefType reads and writes back
;   misc-enable-read           RDMSR IA32_MISC_ENABLE (0x1A0): no #GP, fast strings (bit 0) set
;   misc-enable-write-same     WRMSR of the value read: accepted
;   misc-enable-fast-strings   WRMSR with bit 0 clear: accepted, reads back clear (restored)
;   misc-enable-reserved-gp    WRMSR with bit 1 (reserved) set: #GP
; Intel only:
;   feature-control-locked     RDMSR IA32_FEATURE_CONTROL (0x3A): lock (0) set, VMX (1, 2) off
;   feature-control-write-gp   WRMSR to it: #GP (locked)
;   amd-perf-absent-on-intel   RDMSR 0xC0010000: #GP
; AMD only:
;   amd-perf-ctl-write         WRMSR PERF_CTL0-3 / PERF_CTR0-3 (0xC0010000-7): accepted
;   amd-perf-read-zero         RDMSR of each: 0
;   amd-perfctr-core-hidden    CPUID 0x80000001 ECX[23] (PerfCtrExtCore) clear ...
;   amd-perfctr-core-gp        ... and RDMSR 0xC0010200 #GPs
; Expected under Peregrine: every line PASS, "DONE failures=0", exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

MSR_UNDEFINED   equ 0x1234
MSR_MISC_ENABLE equ 0x1A0
MSR_FEATURE_CTL equ 0x3A
MSR_PERF_CAPS   equ 0x345
MSR_MCG_CAP     equ 0x179
MSR_MTRR_DEF    equ 0x2FF
MSR_AMD_PERF    equ 0xC0010000
MSR_AMD_PERF_X  equ 0xC0010200

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SETUP_IDT32
    call detect_vendor
    PRINT "TEST msr-answers starting", 10

    ; ---- IA32_TSC -----------------------------------------------------------------------
    mov ecx, MSR_TSC
    mov edx, 0x100
    xor eax, eax
    call wrmsr_probe
    ; The TSC jumped: lib.inc's pace_line would take the jump for time since the last line
    ; and spin its longest (2^28 cycles, 2.7 s under Bochs) after the next one.
    mov dword [line_tsc], 0
    rdtsc
    mov ebx, eax
    mov edi, edx
    cmp ebp, 0
    CHECK e, "tsc-write-no-gp", "gp=", ebp
    cmp edi, 0x100
    CHECK e, "tsc-write-rdtsc-high", "edx=", edi
    cmp ebx, 0x10000000
    CHECK b, "tsc-write-rdtsc-close", "eax=", ebx
    rdtsc
    sub eax, ebx
    sbb edx, edi                        ; CF: the second is below the first
    CHECK nc, "tsc-write-monotonic", "second-first high=", edx
    mov ecx, MSR_TSC
    rdmsr
    cmp edx, 0x100
    CHECK e, "tsc-write-rdmsr", "edx=", edx

    mov ecx, MSR_TSC
    xor edx, edx
    mov eax, 0x1000
    call wrmsr_probe
    mov dword [line_tsc], 0             ; (as above)
    rdtsc
    mov ebx, eax
    mov edi, edx
    mov esi, 1                          ; ESI = 1 while every condition holds
    cmp ebp, 0
    jne .lower_bad
    cmp edi, 0
    jne .lower_bad
    cmp ebx, 0x1000
    jb .lower_bad
    cmp ebx, 0x10000000
    jb .lower_checked
.lower_bad:
    xor esi, esi
.lower_checked:
    cmp esi, 1
    CHECK e, "tsc-write-lower", "eax=", ebx
    rdtsc
    sub eax, ebx
    sbb edx, edi
    CHECK nc, "tsc-write-lower-monotonic", "second-first high=", edx

    ; ---- MSRs that do not exist -----------------------------------------------------------
    mov ecx, MSR_UNDEFINED
    call rdmsr_probe
    cmp ebp, 1
    CHECK e, "undefined-rdmsr-gp", "gp=", ebp
    mov ecx, MSR_UNDEFINED
    xor eax, eax
    xor edx, edx
    call wrmsr_probe
    cmp ebp, 1
    CHECK e, "undefined-wrmsr-gp", "gp=", ebp
    mov ecx, MSR_PMC0
    call rdmsr_probe
    cmp ebp, 1
    CHECK e, "pmc0-gp", "gp=", ebp
    ; EFER.LMSLE: Intel has none and QEMU's EPYC sets EferLmsleUnsupported, so the bit is
    ; reserved here; accepted, it failed the next VMRUN (found by the guest fuzzer).
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1 << 13
    call wrmsr_probe
    cmp ebp, 1
    CHECK e, "efer-lmsle-gp", "gp=", ebp
    mov eax, 0xA
    xor ecx, ecx
    cpuid
    test eax, eax
    CHECK z, "cpuid-no-arch-perfmon", "leaf 0xa eax=", eax

    ; ---- CPUID and MSRs together ----------------------------------------------------------
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov [leaf1_ecx], ecx
    mov [leaf1_edx], edx
    mov ecx, MSR_PERF_CAPS
    call rdmsr_probe                    ; EBP = 1: #GP
    mov eax, [leaf1_ecx]
    shr eax, 15
    and eax, 1                          ; EAX = PDCM
    xor eax, 1                          ; EAX = 1 when PDCM is clear: must match the #GP
    cmp eax, ebp
    CHECK e, "perf-capabilities-matches-pdcm", "gp=", ebp

    test dword [leaf1_edx], 1 << 14
    jz .no_mca
    mov ecx, MSR_MCG_CAP
    call rdmsr_probe
    cmp ebp, 0
    CHECK e, "mcg-cap-with-mca", "gp=", ebp
.no_mca:
    test dword [leaf1_edx], 1 << 12
    jz .no_mtrr
    mov ecx, MSR_MTRR_DEF
    call rdmsr_probe
    mov ebx, eax
    mov esi, ebp                        ; ESI = faults so far
    mov eax, 0x800                      ; enabled, default UC
    xor edx, edx
    call wrmsr_probe
    add esi, ebp
    call rdmsr_probe
    add esi, ebp
    mov edi, eax
    mov eax, ebx                        ; restore
    xor edx, edx
    call wrmsr_probe
    add esi, ebp
    cmp edi, 0x800
    jne .mtrr_checked
    cmp esi, 0
.mtrr_checked:
    CHECK e, "mtrr-def-type", "read back=", edi
.no_mtrr:

    ; ---- IA32_MISC_ENABLE, on both vendors (as KVM and QEMU give it) -----------------------
    mov ecx, MSR_MISC_ENABLE
    call rdmsr_probe
    mov ebx, eax
    mov edi, edx
    cmp ebp, 0
    jne .misc_read_checked
    test eax, 1
    jz .misc_read_bad
    cmp eax, eax                        ; ZF = 1: pass
    jmp .misc_read_checked
.misc_read_bad:
    test esp, esp                       ; ZF = 0: fail
.misc_read_checked:
    CHECK e, "misc-enable-read", "value=", ebx
    mov ecx, MSR_MISC_ENABLE
    mov eax, ebx
    mov edx, edi
    call wrmsr_probe
    cmp ebp, 0
    CHECK e, "misc-enable-write-same", "gp=", ebp
    mov ecx, MSR_MISC_ENABLE
    mov eax, ebx
    and eax, ~1
    mov edx, edi
    call wrmsr_probe
    mov esi, ebp
    call rdmsr_probe
    add esi, ebp
    and eax, 1                          ; fast strings read back
    add esi, eax
    mov eax, ebx                        ; restore
    mov edx, edi
    call wrmsr_probe
    cmp esi, 0
    CHECK e, "misc-enable-fast-strings", "faults+bit=", esi
    mov ecx, MSR_MISC_ENABLE
    mov eax, ebx
    or eax, 1 << 1                      ; reserved (SDM Vol 4 Table 2-2)
    mov edx, edi
    call wrmsr_probe
    cmp ebp, 1
    CHECK e, "misc-enable-reserved-gp", "gp=", ebp

    cmp byte [hv_is_intel], 0
    je amd_checks

    ; ---- Intel ----------------------------------------------------------------------------

    mov ecx, MSR_FEATURE_CTL
    call rdmsr_probe
    mov ebx, eax
    add eax, ebp                        ; a #GP leaves EAX as it was: count it in
    and eax, 7
    cmp eax, 1
    CHECK e, "feature-control-locked", "value=", ebx
    mov ecx, MSR_FEATURE_CTL
    mov eax, 5
    xor edx, edx
    call wrmsr_probe
    cmp ebp, 1
    CHECK e, "feature-control-write-gp", "gp=", ebp

    mov ecx, MSR_AMD_PERF
    call rdmsr_probe
    cmp ebp, 1
    CHECK e, "amd-perf-absent-on-intel", "gp=", ebp
    jmp finish

    ; ---- AMD ------------------------------------------------------------------------------
amd_checks:
    xor esi, esi                        ; faults on write
    xor edi, edi                        ; non-zero reads (or faults)
    mov ecx, MSR_AMD_PERF
.perf_next:
    mov eax, 0x00430076                 ; cycles, user+OS, enabled
    xor edx, edx
    call wrmsr_probe
    add esi, ebp
    call rdmsr_probe
    add edi, ebp
    or eax, edx
    jz .perf_zero
    inc edi
.perf_zero:
    inc ecx
    cmp ecx, MSR_AMD_PERF + 8
    jb .perf_next
    cmp esi, 0
    CHECK e, "amd-perf-ctl-write", "faults=", esi
    cmp edi, 0
    CHECK e, "amd-perf-read-zero", "non-zero=", edi

    mov eax, 0x80000001
    xor ecx, ecx
    cpuid
    test ecx, 1 << 23
    CHECK z, "amd-perfctr-core-hidden", "ecx=", ecx
    mov ecx, MSR_AMD_PERF_X
    call rdmsr_probe
    cmp ebp, 1
    CHECK e, "amd-perfctr-core-gp", "gp=", ebp
    jmp finish

; rdmsr_probe / wrmsr_probe: RDMSR or WRMSR of ECX (EDX:EAX), a #GP allowed. EBP = the
; number of #GPs it raised (0 or 1); ECX is kept.
rdmsr_probe:
    mov dword [gp_count], 0
    mov byte [gp_expected], 1
    rdmsr
    mov byte [gp_expected], 0
    mov ebp, [gp_count]
    ret

wrmsr_probe:
    mov dword [gp_count], 0
    mov byte [gp_expected], 1
    wrmsr
    mov byte [gp_expected], 0
    mov ebp, [gp_count]
    ret

    EMIT_LIB
    EMIT_EXCEPTIONS32

[section .data]
leaf1_ecx:  dd 0
leaf1_edx:  dd 0
