; A guest that never ends by itself, for the VM manager's create/destroy test
; (lifecycle_test=): it prints one line on COM1, then spins without an exit until the
; VM is destroyed. Flat, real mode: load=0x7c00 entry=0000:7c00.
    org 0x7C00
bits 16
    cli
    xor ax, ax
    mov ds, ax
    mov si, message
    mov dx, 0x3F8
.next:
    lodsb
    test al, al
    jz .spin
    out dx, al
    jmp .next
.spin:
    pause
    jmp .spin
message: db "lifecycle guest running", 10, 0
