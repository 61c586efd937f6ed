; long-mode.asm -- the 64-bit long-mode test guest.
;
; Real mode -> 32-bit protected mode -> long mode (4-level paging, 2 MiB pages identity
; mapping the 16 MiB of RAM and the MMIO device page, lmode.inc), a 64-bit IDT, then:
;   long-mode-active           EFER (RDMSR 0xC0000080) has LME and LMA set
;   cpuid-hypervisor-bit-lm64  leaf 1 ECX bit 31 set, from 64-bit code
;   cpuid-hv-vendor-lm64       leaf 0x40000000 = "Peregrine HV"
;   hypercall-identify-lm64    hypercall 0: RAX = 0, RBX = 0x4E475250 (all 64 bits), RCX = 1
;   hypercall-console-lm64     hypercall 1 on a message: RAX = 0
;   MMIO with REX forms (RBX = 0xFED00000, the 64-bit scratch at +8):
;   mmio-id-r8d                mov r8d, [rbx] = 0x50455245, zero-extended into R8
;   mmio-moffs64               mov eax, [qword 0xFED00000] (A1 with a 64-bit moffs)
;   mmio-scratch-64            mov [rbx+8], r10 / mov r9, [rbx+8]: 64-bit store and load
;   mmio-load32-zero-extends   mov r13d, [rbx+8] clears R13 bits 63:32
;   mmio-scratch-high-dword    mov r13d, [rbx+0xC] = the upper half
;   mmio-movzx-r11d-word       movzx r11d, word [rbx+8]
;   mmio-movsx-r12-byte        movsx r12, byte [rbx+8] (REX.W 0F BE) sign-extends to 64 bits
;   mmio-movsxd-r14            movsxd r14, dword [rbx+8]
;   mmio-load8-rex-merge       mov r15b, [rbx+8] keeps R15 bits 63:8
;   mmio-store8-imm            mov byte [rbx+8], 0x7F
;   mmio-store64-imm32-sign    mov qword [rbx+8], -2 (REX.W C7, imm32 sign-extended)
;   mmio-rep-stosq-*           rep stosq with RCX = 1: RCX = 0, RDI += 8, the qword stored
;   mmio-counter-64            the access counter (64-bit reads at +0x10) increases
;   msr-lstar-roundtrip        WRMSR/RDMSR LSTAR (allowed) reads back
;   msr-unallowed-rdmsr-*-lm64 RDMSR 0xC1: #GP(0) injected through the 64-bit IDT, at the RDMSR
;   msr-unallowed-wrmsr-*-lm64 WRMSR 0xC1: same
;   hypercall-stats-lm64       hypercall 2: RAX = 0, 1 <= RCX <= 32 records, RDX > 0; prints
;                              each record as "INFO exit-stats kind=K count=C cycles=Y"
;   hypercall-stats-cpuid-record   a record of kind 0 (cpuid) with count >= 1
;   hypercall-stats-io-record      a record of kind 3 (io) with count >= 1 (the UART)
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", the VM
; stops itself through hypercall 3 with exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
    ENTER_LONG_MODE
main:
    SETUP_IDT64
    call detect_vendor
    PRINT "TEST long-mode starting", 10

    mov ecx, MSR_EFER
    rdmsr
    and eax, (1 << 8) | (1 << 10)
    cmp eax, (1 << 8) | (1 << 10)
    CHECK e, "long-mode-active", "efer&0x500=", rax

    ; ---- CPUID and hypercalls from 64-bit code -------------------------------------------
    mov eax, 1
    xor ecx, ecx
    cpuid
    bt ecx, 31
    CHECK c, "cpuid-hypervisor-bit-lm64", "leaf 1 ecx=", rcx

    mov eax, 0x40000000
    xor ecx, ecx
    cpuid
    mov esi, ebx
    cmp ebx, 'Pere'
    jne .vendor_checked
    cmp ecx, 'grin'
    jne .vendor_checked
    cmp edx, 'e HV'
.vendor_checked:
    CHECK e, "cpuid-hv-vendor-lm64", "leaf 0x40000000 ebx=", rsi

    mov rax, HC_IDENTIFY
    mov rbx, -1                             ; the whole of RBX must be replaced
    mov rcx, -1
    call hypercall
    test rax, rax
    jnz .identify_checked
    mov rdx, HC_IDENTIFY_RBX
    cmp rbx, rdx
.identify_checked:
    CHECK e, "hypercall-identify-lm64", "rax/rbx=", rbx
    cmp rcx, HC_ABI_VERSION
    CHECK e, "hypercall-identify-abi-lm64", "rcx=", rcx

    mov eax, HC_CONSOLE
    mov ebx, message
    mov ecx, message_length
    call hypercall
    test rax, rax
    CHECK z, "hypercall-console-lm64", "rax=", rax

    ; ---- MMIO with REX forms ------------------------------------------------------------
    mov ebx, MMIO_BASE                      ; RBX = 0x00000000FED00000
    mov r8, -1
    mov r8d, [rbx]                          ; 44 8B 03
    mov rax, MMIO_ID_VALUE
    cmp r8, rax
    CHECK e, "mmio-id-r8d", "r8=", r8
    mov rax, -1
    mov eax, [qword MMIO_ID]                ; A1 moffs64
    cmp rax, MMIO_ID_VALUE
    CHECK e, "mmio-moffs64", "rax=", rax

    mov r10, 0x1122334498765488
    mov [rbx + 8], r10                      ; 4C 89 53 08
    mov r9, [rbx + 8]                       ; 4C 8B 4B 08
    cmp r9, r10
    CHECK e, "mmio-scratch-64", "r9=", r9
    mov r13, -1
    mov r13d, [rbx + 8]
    mov rax, 0x98765488
    cmp r13, rax
    CHECK e, "mmio-load32-zero-extends", "r13=", r13
    mov r13d, [rbx + 0xC]
    cmp r13, 0x11223344
    CHECK e, "mmio-scratch-high-dword", "r13=", r13
    mov r11, -1
    movzx r11d, word [rbx + 8]              ; 44 0F B7 5B 08
    cmp r11, 0x5488
    CHECK e, "mmio-movzx-r11d-word", "r11=", r11
    xor r12d, r12d
    movsx r12, byte [rbx + 8]               ; 4C 0F BE 63 08
    cmp r12, -0x78                          ; 0xFFFFFFFFFFFFFF88
    CHECK e, "mmio-movsx-r12-byte", "r12=", r12
    xor r14d, r14d
    movsxd r14, dword [rbx + 8]             ; 4C 63 73 08
    mov rax, 0xFFFFFFFF98765488
    cmp r14, rax
    CHECK e, "mmio-movsxd-r14", "r14=", r14
    mov r15, 0x1111111111111111
    mov r15b, [rbx + 8]                     ; 44 8A 7B 08
    mov rax, 0x1111111111111188
    cmp r15, rax
    CHECK e, "mmio-load8-rex-merge", "r15=", r15

    mov byte [rbx + 8], 0x7F                ; C6 43 08 7F
    movzx r11d, byte [rbx + 8]
    cmp r11, 0x7F
    CHECK e, "mmio-store8-imm", "r11=", r11
    mov qword [rbx + 8], -2                 ; 48 C7 43 08 FE FF FF FF
    mov r9, [rbx + 8]
    cmp r9, -2
    CHECK e, "mmio-store64-imm32-sign", "r9=", r9

    lea rdi, [rbx + 8]
    mov rax, 0xCAFEBABEDEADBEEF
    mov ecx, 1
    cld
    rep stosq                               ; F3 48 AB
    test rcx, rcx
    CHECK z, "mmio-rep-stosq-rcx", "rcx=", rcx
    lea rdx, [rbx + 0x10]
    cmp rdi, rdx
    CHECK e, "mmio-rep-stosq-rdi", "rdi=", rdi
    mov r9, [rbx + 8]
    cmp r9, rax
    CHECK e, "mmio-rep-stosq-data", "r9=", r9

    mov rcx, [rbx + 0x10]
    mov eax, [rbx]
    mov rdx, [rbx + 0x10]
    cmp rdx, rcx
    CHECK a, "mmio-counter-64", "second read=", rdx

    ; ---- MSRs ---------------------------------------------------------------------------
    mov ecx, MSR_LSTAR
    rdmsr
    mov r12d, eax                           ; keep the old value
    mov r13d, edx
    mov eax, 0x00001000
    mov edx, 0xFFFF8000                     ; canonical 0xFFFF800000001000
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov rdx, 0xFFFF800000001000
    cmp rax, rdx
    CHECK e, "msr-lstar-roundtrip", "lstar=", rax
    mov eax, r12d
    mov edx, r13d
    wrmsr

    mov dword [gp_count], 0
    mov qword [gp_error], -1
    mov qword [gp_rip], 0
    mov ecx, MSR_PMC0
    mov byte [gp_expected], 1
.rdmsr:
    rdmsr                                   ; expected: #GP(0), resumed after it
    mov byte [gp_expected], 0
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, "msr-unallowed-rdmsr-gp-lm64", "gp count=", rax
    mov rax, [gp_error]
    test rax, rax
    CHECK z, "msr-unallowed-rdmsr-error-code-lm64", "error=", rax
    mov rax, [gp_rip]
    cmp rax, .rdmsr
    CHECK e, "msr-unallowed-rdmsr-rip-lm64", "rip=", rax

    mov dword [gp_count], 0
    mov qword [gp_error], -1
    mov qword [gp_rip], 0
    mov ecx, MSR_PMC0
    xor eax, eax
    xor edx, edx
    mov byte [gp_expected], 1
.wrmsr:
    wrmsr                                   ; expected: #GP(0), resumed after it
    mov byte [gp_expected], 0
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, "msr-unallowed-wrmsr-gp-lm64", "gp count=", rax
    mov rax, [gp_error]
    test rax, rax
    CHECK z, "msr-unallowed-wrmsr-error-code-lm64", "error=", rax
    mov rax, [gp_rip]
    cmp rax, .wrmsr
    CHECK e, "msr-unallowed-wrmsr-rip-lm64", "rip=", rax

    ; ---- exit statistics ----------------------------------------------------------------
    mov eax, HC_STATS
    mov ebx, STATS_BUF
    mov ecx, STATS_BUF_SIZE
    call hypercall
    mov r12, rcx                            ; records
    mov r13, rdx                            ; total exits
    test rax, rax
    CHECK z, "hypercall-stats-lm64", "rax=", rax
    test rax, rax                           ; (CHECK clobbers the flags)
    jnz .stats_done
    cmp r12, 1
    CHECK ae, "hypercall-stats-records-lm64", "rcx=", r12
    cmp r12, STATS_BUF_SIZE / 24
    CHECK be, "hypercall-stats-fits-lm64", "rcx=", r12
    test r13, r13
    CHECK nz, "hypercall-stats-total-lm64", "rdx=", r13
    cmp r12, STATS_BUF_SIZE / 24
    jbe .walk
    mov r12d, STATS_BUF_SIZE / 24
.walk:
    ; print each record; R14 = count of the cpuid record, R15 = count of the io record
    xor r14d, r14d
    xor r15d, r15d
    mov esi, STATS_BUF
.record:
    test r12, r12
    jz .records_done
    PRINT "INFO exit-stats kind="
    mov rax, [rsi]
    call put_dec
    PRINT " count="
    mov rax, [rsi + 8]
    call put_dec
    PRINT " cycles="
    mov rax, [rsi + 16]
    call put_dec
    PRINT 10
    cmp qword [rsi], EXIT_CPUID
    cmove r14, [rsi + 8]
    cmp qword [rsi], EXIT_IO
    cmove r15, [rsi + 8]
    add rsi, 24
    dec r12
    jmp .record
.records_done:
    cmp r14, 1
    CHECK ae, "hypercall-stats-cpuid-record", "cpuid count=", r14
    cmp r15, 1
    CHECK ae, "hypercall-stats-io-record", "io count=", r15
.stats_done:
    PRINT "INFO total exits "
    mov rax, r13
    call put_dec
    PRINT 10
    jmp finish

    EMIT_LIB
    EMIT_EXCEPTIONS64

[section .data]
message:        db "hello from the long-mode guest via hypercall 1", 10
message_length  equ $ - message
