; bystander.asm -- another VM's memory during the passthrough attacks (docs/passthrough.md):
; fills its RAM from 1 MiB to 16 MiB with a pattern of each dword's own address, then checks
; the whole of it again and again, printing "INFO bystander pass=N intact" after each check
; that finds every dword as written and "FAIL bystander-memory address=..." at the first that
; is not (then stops with code 1). Never stops by itself otherwise.

%include "lib.inc"
%include "pmode.inc"

FIRST   equ 0x00100000
LAST    equ 0x01000000
SALT    equ 0x5A17C0DE

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    mov edi, FIRST
.fill:
    mov eax, edi
    xor eax, SALT
    mov [edi], eax
    add edi, 4
    cmp edi, LAST
    jb .fill
    PRINT "INFO bystander filled 15 MiB", 10
    xor ebx, ebx                        ; passes
.pass:
    mov edi, FIRST
.check:
    mov eax, edi
    xor eax, SALT
    cmp [edi], eax
    jne .changed
    add edi, 4
    cmp edi, LAST
    jb .check
    inc ebx
    PRINT "INFO bystander pass="
    mov eax, ebx
    call put_dec
    PRINT " intact", 10
    jmp .pass
.changed:
    mov eax, edi
    cmp eax, 0                          ; (never equal: fails with the address)
    CHECK e, "bystander-memory", "address=", eax
    jmp finish

    EMIT_LIB
