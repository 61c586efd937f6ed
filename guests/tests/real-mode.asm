; real-mode.asm -- the real-mode test guest.
;
; Runs entirely in real mode (16-bit code, 32-bit registers through the 66h prefix) and
; checks the guest ABI of docs/guest-abi.md:
;   cpuid-hypervisor-bit     leaf 1 ECX bit 31 set
;   cpuid-vmx-hidden         leaf 1 ECX bit 5 (VMX) clear
;   cpuid-hv-vendor          leaf 0x40000000 EBX:ECX:EDX = "Peregrine HV"
;   cpuid-hv-max-leaf        leaf 0x40000000 EAX >= 0x40000001
;   cpuid-hv-abi-version     leaf 0x40000001 EAX = 1
;   cpuid-svm-hidden         leaf 0x80000001 ECX bit 2 (SVM) clear
;   cpuid-svm-leaf-zero      leaf 0x8000000A all zeros
;   io-unknown-port-in8/16/32  IN from port 0x2F0 (DX forms) reads all ones
;   io-unknown-port-imm8     IN AL, 0x80 reads 0xFF
;   hypercall-identify       hypercall 0: RAX = 0, EBX = 0x4E475250 "PRGN"
;   hypercall-identify-abi   hypercall 0: ECX = 1
;   hypercall-console        hypercall 1 on a message in guest memory: RAX = 0
;                            (the message "hello from the real-mode guest" appears on the console)
;   hypercall-console-too-long   hypercall 1 with length 5000: RAX = -3
;   hypercall-console-bad-address  hypercall 1 at guest-physical 0x02000000: RAX = -2
;   hypercall-unknown        hypercall 99: RAX = -1
;   hypercall-stats          hypercall 2 into STATS_BUF: RAX = 0, ECX >= 1, EDX > 0,
;                            ECX * 24 fits in the buffer
;   SKIP mmio                real mode cannot address 0xFED00000 (tested by protected-mode
;                            and long-mode)
; Expected result under Peregrine (both vendors): every line PASS, "DONE failures=0", and the
; VM stops itself through hypercall 3 with exit code 0.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    INSTALL_REAL_MODE_UD
    call detect_vendor
    PRINT "TEST real-mode starting", 10

    ; ---- CPUID --------------------------------------------------------------------------
    mov eax, 1
    xor ecx, ecx
    cpuid
    test ecx, 1 << 31
    CHECK nz, "cpuid-hypervisor-bit", "leaf 1 ecx=", ecx
    test ecx, 1 << 5
    CHECK z, "cpuid-vmx-hidden", "leaf 1 ecx=", ecx

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
    CHECK e, "cpuid-hv-vendor", "leaf 0x40000000 ebx=", esi
    cmp eax, 0x40000001
    CHECK ae, "cpuid-hv-max-leaf", "leaf 0x40000000 eax=", eax

    mov eax, 0x40000001
    xor ecx, ecx
    cpuid
    cmp eax, HC_ABI_VERSION
    CHECK e, "cpuid-hv-abi-version", "leaf 0x40000001 eax=", eax

    mov eax, 0x80000001
    xor ecx, ecx
    cpuid
    test ecx, 1 << 2
    CHECK z, "cpuid-svm-hidden", "leaf 0x80000001 ecx=", ecx

    mov eax, 0x8000000A
    xor ecx, ecx
    cpuid
    or eax, ebx
    or eax, ecx
    or eax, edx
    CHECK z, "cpuid-svm-leaf-zero", "leaf 0x8000000A or of all registers=", eax

    ; ---- unknown port -------------------------------------------------------------------
    mov dx, UNKNOWN_PORT
    xor eax, eax
    in al, dx
    cmp eax, 0xFF
    CHECK e, "io-unknown-port-in8", "eax=", eax
    xor eax, eax
    in ax, dx
    cmp eax, 0xFFFF
    CHECK e, "io-unknown-port-in16", "eax=", eax
    xor eax, eax
    in eax, dx
    cmp eax, 0xFFFFFFFF
    CHECK e, "io-unknown-port-in32", "eax=", eax
    xor eax, eax
    in al, 0x80
    cmp eax, 0xFF
    CHECK e, "io-unknown-port-imm8", "eax=", eax

    ; ---- hypercalls ---------------------------------------------------------------------
    mov eax, HC_IDENTIFY
    xor ebx, ebx
    xor ecx, ecx
    call hypercall
    mov esi, eax
    test eax, eax
    jnz .identify_checked
    cmp ebx, HC_IDENTIFY_RBX
.identify_checked:
    CHECK e, "hypercall-identify", "rax/rbx=", ebx
    cmp ecx, HC_ABI_VERSION
    CHECK e, "hypercall-identify-abi", "rcx=", ecx

    mov eax, HC_CONSOLE
    mov ebx, message
    mov ecx, message_length
    call hypercall
    test eax, eax
    CHECK z, "hypercall-console", "rax=", eax

    mov eax, HC_CONSOLE
    mov ebx, message
    mov ecx, 5000
    call hypercall
    cmp eax, HC_ERR_LENGTH
    CHECK e, "hypercall-console-too-long", "rax=", eax

    mov eax, HC_CONSOLE
    mov ebx, 0x02000000         ; 32 MiB: outside the guest's 16 MiB
    mov ecx, 16
    call hypercall
    cmp eax, HC_ERR_ADDRESS
    CHECK e, "hypercall-console-bad-address", "rax=", eax

    mov eax, 99
    call hypercall
    cmp eax, HC_ERR_UNKNOWN
    CHECK e, "hypercall-unknown", "rax=", eax

    mov eax, HC_STATS
    mov ebx, STATS_BUF
    mov ecx, STATS_BUF_SIZE
    call hypercall
    test eax, eax
    CHECK z, "hypercall-stats", "rax=", eax
    cmp ecx, 1
    CHECK ae, "hypercall-stats-records", "rcx=", ecx
    cmp ecx, STATS_BUF_SIZE / 24
    CHECK be, "hypercall-stats-fits", "rcx=", ecx
    test edx, edx
    CHECK nz, "hypercall-stats-total", "rdx=", edx

    PRINT "SKIP mmio (real mode cannot address 0xFED00000; see protected-mode, long-mode)", 10
    jmp finish

    EMIT_LIB
    EMIT_REAL_MODE_UD

[section .data]
message:        db "hello from the real-mode guest via hypercall 1", 10
message_length  equ $ - message
