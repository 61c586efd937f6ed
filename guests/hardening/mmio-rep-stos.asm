; mmio-rep-stos.asm -- hardening guest: REP STOS to the MMIO test device in long mode.
;
; The hypervisor emulates a string store to MMIO in bounded chunks (at most 64 repetitions
; per exit, never past the device or the linear page); an unfinished REP is left as an
; interrupted one: RCX/RDI show the progress and RIP stays on it, so the guest runs it
; again (docs/hardening.md). Checks, long mode (RBX = 0xFED00000):
;   rep-stosb-1000-rcx/rdi     REP STOSB, RCX = 1000, from +0x100: RCX = 0, RDI = +0x100+1000
;   rep-stosq-data             REP STOSQ, RCX = 1, to the scratch register: the value stored
;   rep-stosb-down-rcx/rdi     STD; REP STOSB, RCX = 300, from +0x800: RDI = +0x800-300
; Then the attack: MOV RDI, 0xFED00008; MOV RCX, -1; REP STOSB. The device is filled chunk by
; chunk to its end; the next store, at 0xFED01000, reaches no device and stops the VM
; (unmapped=stop): "write to guest-physical 0xfed01000, where no device is mapped".
; "FAIL still running" must never appear; the hypervisor and the other VMs go on.

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
    PRINT "TEST mmio-rep-stos starting", 10
    mov ebx, MMIO_BASE
    cld

    lea rdi, [rbx + 0x100]
    mov ecx, 1000
    mov al, 0x5A
    rep stosb
    test rcx, rcx
    CHECK z, "rep-stosb-1000-rcx", "rcx=", rcx
    lea rdx, [rbx + 0x100 + 1000]
    cmp rdi, rdx
    CHECK e, "rep-stosb-1000-rdi", "rdi=", rdi

    lea rdi, [rbx + 8]
    mov rax, 0x0123456789ABCDEF
    mov ecx, 1
    rep stosq
    mov rdx, [rbx + 8]
    cmp rdx, rax
    CHECK e, "rep-stosq-data", "scratch=", rdx

    lea rdi, [rbx + 0x800]
    mov ecx, 300
    std
    rep stosb
    cld
    test rcx, rcx
    CHECK z, "rep-stosb-down-rcx", "rcx=", rcx
    lea rdx, [rbx + 0x800 - 300]
    cmp rdi, rdx
    CHECK e, "rep-stosb-down-rdi", "rdi=", rdi

    PRINT "INFO runaway rep stosb from 0xFED00008, RCX = -1", 10
    lea rdi, [rbx + 8]
    mov rcx, -1
    rep stosb
    PRINT "FAIL still running after the runaway rep stosb, rdi="
    mov rax, rdi
    call put_hex
    PRINT 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS64
