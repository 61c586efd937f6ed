; string-port-io.asm -- hardening guest: INS/OUTS with REP, in 32-bit protected mode.
; The hypervisor emulates them in bounded chunks (at most 64 elements per exit, never past
; the operand's page), reading the guest's memory operand (docs/hardening.md):
;   (the line of text below, written with REP OUTSB to COM1, 100 characters: two chunks)
;   rep-outsb-ecx/esi      ECX = 0, ESI advanced by the length
;   rep-insb-ecx/edi       REP INSB from port 0x2F0 (no device), 300 bytes: ECX = 0, EDI += 300
;   rep-insb-data          the 300 bytes are all 0xFF, the byte after untouched
;   insw-single            INSW without REP: EDI += 2, ECX untouched
; Then OUTSB from the MMIO device (ESI = 0xFED00000): its memory operand is not RAM, so the
; VM stops: "INS/OUTS on port 0x3f8 with its memory operand at guest-linear 0xfed00000,
; which is not guest RAM". "FAIL still running" must never appear.

%include "lib.inc"
%include "pmode.inc"
%include "exceptions.inc"

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    SETUP_IDT32
    call detect_vendor
    PRINT "TEST string-port-io starting", 10
    cld
    mov esi, line
    mov ecx, line_length
    mov dx, COM1
    rep outsb
    test ecx, ecx
    CHECK z, "rep-outsb-ecx", "ecx=", ecx
    cmp esi, line + line_length
    CHECK e, "rep-outsb-esi", "esi=", esi

    mov edi, buffer
    mov byte [buffer + 300], 0x11
    mov ecx, 300
    mov dx, UNKNOWN_PORT
    rep insb
    test ecx, ecx
    CHECK z, "rep-insb-ecx", "ecx=", ecx
    cmp edi, buffer + 300
    CHECK e, "rep-insb-edi", "edi=", edi
    mov esi, buffer
    mov ecx, 300
.scan:
    cmp byte [esi], 0xFF
    jne .scanned
    inc esi
    dec ecx
    jnz .scan
    cmp byte [esi], 0x11
.scanned:
    CHECK e, "rep-insb-data", "at=", esi

    mov edi, buffer
    mov ecx, 7
    insw
    cmp edi, buffer + 2
    CHECK e, "insw-single-edi", "edi=", edi
    cmp ecx, 7
    CHECK e, "insw-single-ecx", "ecx=", ecx

    PRINT "INFO outsb from the MMIO device", 10
    mov esi, MMIO_BASE
    mov ecx, 4
    mov dx, COM1
    rep outsb
    PRINT "FAIL still running after OUTSB from MMIO", 10
    mov ebx, 1
    jmp stop

    EMIT_LIB
    EMIT_EXCEPTIONS32

[section .data]
line: db "INFO rep outsb: this line is 100 characters long and is written by one REP OUTSB to COM1 ..........", 10
line_length equ $ - line
buffer: times 304 db 0
