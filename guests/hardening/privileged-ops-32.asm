; privileged-ops-32.asm -- hidden instructions and control-register rules from 32-bit
; protected mode (no paging, CPL 0), on both vendors.
;
; Protected mode (pmode.inc), an IDT that records expected faults (expect-fault.inc), then:
;   vmxon-ud-pm32 vmxoff-ud-pm32 getsec-ud-pm32 monitor-ud-pm32
;   rdtscp-matches-cpuid-pm32                    #UD unless CPUID.8000_0001:EDX[27], then runs
;   rdpmc-gp-pm32 / rdpmc-gp-error-pm32          #GP(0): no counters offered
;   hypercall-unknown-number-pm32                RAX = -1, no stop
;   CR4 (#GP(0), and CR4 reads back unchanged): cr4-vmxe-gp-pm32 cr4-smxe-gp-pm32
;     cr4-bit31-gp-pm32 cr4-osxsave-gp-pm32 cr4-pcide-gp-pm32 (PCIDE outside IA-32e mode),
;     cr4-la57-pm32 (#GP unless CPUID.(7,0):ECX[16], then accepted), each with -unchanged;
;     cr4-pae-accepted-pm32 (an offered bit sets and clears)
;   CR0: cr0-nw-without-cd-gp-pm32, cr0-pg-without-pe-gp-pm32 (each with -unchanged)
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", the VM
; stops itself through hypercall 3 with exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "expect-fault.inc"

REGION equ 0x30000

; CR4_REFUSED32 bit, "name", "name-unchanged"
%macro CR4_REFUSED32 3
    mov eax, cr4
    mov ebp, eax
    bts eax, %1
    EXPECT_FAULT 13, %2, mov cr4, eax
    mov eax, cr4
    cmp eax, ebp
    CHECK e, %3, "cr4=", eax
%endmacro

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    XF_SETUP_IDT32
    call detect_vendor
    PRINT "TEST privileged-ops-32 starting", 10

    EXPECT_FAULT 6, "vmxon-ud-pm32", vmxon [REGION]
    EXPECT_FAULT 6, "vmxoff-ud-pm32", vmxoff
    xor eax, eax
    EXPECT_FAULT 6, "getsec-ud-pm32", getsec
    mov eax, REGION
    xor ecx, ecx
    xor edx, edx
    EXPECT_FAULT 6, "monitor-ud-pm32", monitor
    ; RDTSCP runs where CPUID offers it (reading the vCPU's TSC_AUX), #UD where not.
    mov eax, 0x80000001
    xor ecx, ecx
    cpuid
    mov [rdtscp_flags], edx
    XF_PROBE rdtscp
    mov eax, [xf_vector]
    bt dword [rdtscp_flags], 27
    jc .rdtscp_offered
    cmp eax, 6
    jmp .rdtscp_checked
.rdtscp_offered:
    cmp eax, XF_NONE
.rdtscp_checked:
    CHECK e, "rdtscp-matches-cpuid-pm32", "vector=", eax
    xor ecx, ecx
    EXPECT_FAULT 13, "rdpmc-gp-pm32", rdpmc
    EXPECT_ERROR_CODE 0, "rdpmc-gp-error-pm32"

    mov eax, 0x12345678
    call hypercall
    cmp eax, -1
    CHECK e, "hypercall-unknown-number-pm32", "eax=", eax

    ; ---- CR4 -------------------------------------------------------------------------
    CR4_REFUSED32 13, "cr4-vmxe-gp-pm32", "cr4-vmxe-gp-pm32-unchanged"
    CR4_REFUSED32 14, "cr4-smxe-gp-pm32", "cr4-smxe-gp-pm32-unchanged"
    CR4_REFUSED32 31, "cr4-bit31-gp-pm32", "cr4-bit31-gp-pm32-unchanged"
    CR4_REFUSED32 18, "cr4-osxsave-gp-pm32", "cr4-osxsave-gp-pm32-unchanged"
    CR4_REFUSED32 17, "cr4-pcide-gp-pm32", "cr4-pcide-gp-pm32-unchanged"

    ; LA57 outside IA-32e mode: legal when offered (it takes effect only in IA-32e mode).
    mov eax, 7
    xor ecx, ecx
    cpuid
    mov esi, ecx
    mov eax, cr4
    mov ebp, eax
    bts eax, 12
    XF_PROBE mov cr4, eax
    mov eax, cr4
    mov ecx, [xf_vector]
    bt esi, 16
    jc .la57_offered
    cmp ecx, 13
    jne .la57_checked
    cmp eax, ebp
    jmp .la57_checked
.la57_offered:
    mov cr4, ebp
    cmp ecx, XF_NONE
.la57_checked:
    CHECK e, "cr4-la57-pm32", "vector=", ecx

    mov eax, cr4
    mov ebp, eax
    bts eax, 5                              ; PAE, offered everywhere
    EXPECT_NO_FAULT "cr4-pae-accepted-pm32", mov cr4, eax
    mov eax, cr4
    bt eax, 5
    CHECK c, "cr4-pae-reads-back-pm32", "cr4=", eax
    mov cr4, ebp
    mov eax, cr4
    cmp eax, ebp
    CHECK e, "cr4-pae-cleared-pm32", "cr4=", eax

    ; ---- CR0 -------------------------------------------------------------------------
    mov eax, cr0
    mov ebp, eax
    bts eax, 29                             ; NW
    btr eax, 30                             ; without CD
    EXPECT_FAULT 13, "cr0-nw-without-cd-gp-pm32", mov cr0, eax
    mov eax, cr0
    cmp eax, ebp
    CHECK e, "cr0-nw-without-cd-gp-pm32-unchanged", "cr0=", eax
    mov eax, cr0
    mov ebp, eax
    btr eax, 0                              ; PE off
    bts eax, 31                             ; with PG on
    EXPECT_FAULT 13, "cr0-pg-without-pe-gp-pm32", mov cr0, eax
    mov eax, cr0
    cmp eax, ebp
    CHECK e, "cr0-pg-without-pe-gp-pm32-unchanged", "cr0=", eax

    jmp finish

    EMIT_LIB
    XF_EMIT32

[section .data]
    align 4
rdtscp_flags:   dd 0                        ; CPUID.8000_0001:EDX
