; A guest that computes and never exits by itself, for the management-network tests: it
; prints one line, then spins in a loop that causes no VM exit. Pinned on its own CPU
; (sched=pinned pin=1), its exit count shows what the node's network work on CPU 0 costs
; the cores running guests: the line's characters and nothing more.
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
    inc eax                          ; work that never leaves the guest
    jmp .spin
message: db "net-spinner: spinning", 10, 0
