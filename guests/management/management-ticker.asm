; A guest that runs until it is destroyed, for the control-plane test (cases_management.py):
; it prints "tick N" on COM1 every INTERVAL TSC cycles, forever, so `console` has output to
; read, a paused VM's console visibly stops, and destroy has something to stop.
; Flat, real mode, loaded where the control protocol loads flat guests: load=0x1000
; entry=0000:1000.
INTERVAL equ 0x10000000             ; 268M cycles: about 0.13 s at QEMU's 2.1 GHz TSC
    org 0x1000
bits 16
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x1000
    xor bp, bp                      ; ticks printed
.tick:
    rdtsc
    add eax, INTERVAL
    adc edx, 0
    mov [deadline], eax
    mov [deadline + 4], edx
.wait:
    rdtsc
    cmp edx, [deadline + 4]
    jb .wait
    ja .print
    cmp eax, [deadline]
    jb .wait
.print:
    mov si, label
    call print
    inc bp
    mov ax, bp
    call decimal
    mov al, 10
    out dx, al
    jmp .tick

%include "real-mode-console.inc"

label db "tick ", 0
deadline dd 0, 0
