; protected-mode.asm -- the 32-bit protected-mode test guest.
;
; Switches to 32-bit protected mode (flat GDT, no paging), installs an IDT (exceptions.inc)
; and checks:
;   cpuid-hv-vendor-pm32       CPUID 0x40000000 from 32-bit code = "Peregrine HV"
;   hypercall-identify-pm32    hypercall 0: RAX = 0, EBX = "PRGN"
;   MMIO test device at 0xFED00000, through the instruction forms the decoder handles:
;   mmio-id-moffs              mov eax, [0xFED00000] (A1 moffs32) = 0x50455245
;   mmio-id-modrm              mov ebx, [esi] (8B /r) = 0x50455245
;   mmio-scratch-low/high      64-bit scratch written as two dwords (C7 imm32 at +8, 89 /r at
;                              +0xC) reads back
;   mmio-movzx-byte/word       movzx of 0x89ABCDEF: 0xEF, 0xCDEF
;   mmio-movsx-byte/word       movsx: 0xFFFFFFEF, 0xFFFFCDEF
;   mmio-load16-merge          mov ax, [..] keeps EAX bits 31:16
;   mmio-load-high-byte        mov ah, [..] lands in bits 15:8 only
;   mmio-store8-imm            mov byte [..], 0x7F reads back as byte 0x7F
;   mmio-store16-imm           mov word [..], 0x1234 reads back as word 0x1234
;   mmio-rep-stosd-*           rep stosd, ECX = 2 at +8: ECX = 0, EDI += 8, both dwords stored
;   mmio-stosd                 stosd (no rep) at +8: EDI += 4, dword stored
;   mmio-counter               the access counter at +0x10 increases across an access
;   msr-tsc-read               RDMSR 0x10 twice, no fault, second >= first
;   msr-unallowed-rdmsr-*      RDMSR 0xC1 (IA32_PMC0): #GP injected, error code 0, at the RDMSR
;   msr-unallowed-wrmsr-*      WRMSR 0xC1: same
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", the VM
; stops itself through hypercall 3 with exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SETUP_IDT32
    call detect_vendor
    PRINT "TEST protected-mode starting", 10

    ; ---- CPUID and a hypercall from 32-bit code -----------------------------------------
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
    CHECK e, "cpuid-hv-vendor-pm32", "leaf 0x40000000 ebx=", esi

    mov eax, HC_IDENTIFY
    call hypercall
    test eax, eax
    jnz .identify_checked
    cmp ebx, HC_IDENTIFY_RBX
.identify_checked:
    CHECK e, "hypercall-identify-pm32", "rax/rbx=", ebx

    ; ---- MMIO test device ---------------------------------------------------------------
    mov eax, [MMIO_ID]                      ; A1 moffs32
    cmp eax, MMIO_ID_VALUE
    CHECK e, "mmio-id-moffs", "eax=", eax
    mov esi, MMIO_BASE
    mov ebx, [esi]                          ; 8B /r
    cmp ebx, MMIO_ID_VALUE
    CHECK e, "mmio-id-modrm", "ebx=", ebx

    mov dword [esi + 8], 0x89ABCDEF         ; C7 /0 imm32
    mov edx, 0x01234567
    mov [esi + 0xC], edx                    ; 89 /r
    mov eax, [esi + 8]
    cmp eax, 0x89ABCDEF
    CHECK e, "mmio-scratch-low", "eax=", eax
    mov eax, [esi + 0xC]
    cmp eax, 0x01234567
    CHECK e, "mmio-scratch-high", "eax=", eax

    mov eax, 0xFFFFFFFF
    movzx eax, byte [esi + 8]               ; 0F B6
    cmp eax, 0xEF
    CHECK e, "mmio-movzx-byte", "eax=", eax
    mov eax, 0xFFFFFFFF
    movzx eax, word [esi + 8]               ; 0F B7
    cmp eax, 0xCDEF
    CHECK e, "mmio-movzx-word", "eax=", eax
    xor eax, eax
    movsx eax, byte [esi + 8]               ; 0F BE
    cmp eax, 0xFFFFFFEF
    CHECK e, "mmio-movsx-byte", "eax=", eax
    xor eax, eax
    movsx eax, word [esi + 8]               ; 0F BF
    cmp eax, 0xFFFFCDEF
    CHECK e, "mmio-movsx-word", "eax=", eax
    mov eax, 0x11111111
    mov ax, [esi + 8]                       ; 66 8B /r
    cmp eax, 0x1111CDEF
    CHECK e, "mmio-load16-merge", "eax=", eax
    mov eax, 0x22222222
    mov ah, [esi + 8]                       ; 8A /r, high-byte register
    cmp eax, 0x2222EF22
    CHECK e, "mmio-load-high-byte", "eax=", eax

    mov byte [esi + 8], 0x7F                ; C6 /0 imm8
    movzx eax, byte [esi + 8]
    cmp eax, 0x7F
    CHECK e, "mmio-store8-imm", "eax=", eax
    mov word [esi + 8], 0x1234              ; 66 C7 /0 imm16
    movzx eax, word [esi + 8]
    cmp eax, 0x1234
    CHECK e, "mmio-store16-imm", "eax=", eax

    mov edi, MMIO_SCRATCH
    mov eax, 0xA5A55A5A
    mov ecx, 2
    cld
    rep stosd                               ; F3 AB: +8 and +0xC
    test ecx, ecx
    CHECK z, "mmio-rep-stosd-ecx", "ecx=", ecx
    cmp edi, MMIO_SCRATCH + 8
    CHECK e, "mmio-rep-stosd-edi", "edi=", edi
    mov ebx, [esi + 8]
    cmp ebx, 0xA5A55A5A
    CHECK e, "mmio-rep-stosd-low", "ebx=", ebx
    mov ebx, [esi + 0xC]
    cmp ebx, 0xA5A55A5A
    CHECK e, "mmio-rep-stosd-high", "ebx=", ebx

    mov edi, MMIO_SCRATCH
    mov eax, 0x0BADF00D
    stosd                                   ; AB
    cmp edi, MMIO_SCRATCH + 4
    CHECK e, "mmio-stosd-edi", "edi=", edi
    mov ebx, [esi + 8]
    cmp ebx, 0x0BADF00D
    CHECK e, "mmio-stosd", "ebx=", ebx

    mov ebx, [esi + 0x10]                   ; the access counter
    mov eax, [esi]
    mov ecx, [esi + 0x10]
    cmp ecx, ebx
    CHECK a, "mmio-counter", "second read=", ecx

    ; ---- MSRs ---------------------------------------------------------------------------
    mov ecx, MSR_TSC
    rdmsr
    mov ebx, eax
    mov edi, edx
    rdmsr
    sub eax, ebx
    sbb edx, edi                            ; CF = second < first
    CHECK nc, "msr-tsc-read", "second-first high=", edx

    mov dword [gp_count], 0
    mov dword [gp_error], 0xFFFFFFFF
    mov dword [gp_rip], 0
    mov ecx, MSR_PMC0
    mov byte [gp_expected], 1
.rdmsr:
    rdmsr                                   ; expected: #GP(0), resumed after it
    mov byte [gp_expected], 0
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, "msr-unallowed-rdmsr-gp", "gp count=", eax
    mov eax, [gp_error]
    test eax, eax
    CHECK z, "msr-unallowed-rdmsr-error-code", "error=", eax
    mov eax, [gp_rip]
    cmp eax, .rdmsr
    CHECK e, "msr-unallowed-rdmsr-rip", "eip=", eax

    mov dword [gp_count], 0
    mov dword [gp_error], 0xFFFFFFFF
    mov dword [gp_rip], 0
    mov ecx, MSR_PMC0
    xor eax, eax
    xor edx, edx
    mov byte [gp_expected], 1
.wrmsr:
    wrmsr                                   ; expected: #GP(0), resumed after it
    mov byte [gp_expected], 0
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, "msr-unallowed-wrmsr-gp", "gp count=", eax
    mov eax, [gp_error]
    test eax, eax
    CHECK z, "msr-unallowed-wrmsr-error-code", "error=", eax
    mov eax, [gp_rip]
    cmp eax, .wrmsr
    CHECK e, "msr-unallowed-wrmsr-rip", "eip=", eax

    jmp finish

    EMIT_LIB
    EMIT_EXCEPTIONS32
