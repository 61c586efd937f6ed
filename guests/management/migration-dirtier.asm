; A guest that checks its own memory while it is moved, for the VT-x migration and
; checkpoint case (Tests/Integration/cases_vmx_migration.py, docs/migration.md): it walks
; PAGES pages from 0x10000, one page every STEP TSC cycles, and in each page checks that the
; first and last words hold the previous sweep's number, then writes this sweep's number
; there. After each sweep it prints "sweep N" on COM1. A write the dirty log missed (a page
; the target got in an older round and never again) is found when the sweep comes back to
; that page: "MISMATCH at page P", and the guest halts. The sweep number lives in BP, so a
; vCPU state that is not carried over shows too (a restart prints "sweep 1" again).
; Flat, real mode, loaded where the control protocol loads flat guests: load=0x1000
; entry=0000:1000.
STEP  equ 0x00200000                ; 2M cycles a page: about 21 ms at Bochs' 100M TSC/s
PAGES equ 128                       ; 0x10000 .. 0x8FFFF: 512 KiB, within real mode's reach
    org 0x1000
bits 16
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x1000
    mov bp, 1                       ; the sweep being written
.sweep:
    xor bx, bx                      ; the page being checked
.page:
    rdtsc
    add eax, STEP
    adc edx, 0
    mov [deadline], eax
    mov [deadline + 4], edx
.wait:
    rdtsc
    cmp edx, [deadline + 4]
    jb .wait
    ja .check
    cmp eax, [deadline]
    jb .wait
.check:
    mov ax, bx                      ; page P's segment: 0x1000 + P * 0x100
    shl ax, 8
    add ax, 0x1000
    mov es, ax
    mov ax, bp
    dec ax                          ; what the previous sweep wrote (0: never written)
    cmp [es:0], ax
    jne .bad
    cmp [es:4094], ax
    jne .bad
    mov [es:0], bp
    mov [es:4094], bp
    inc bx
    cmp bx, PAGES
    jb .page
    mov si, label
    call print
    mov ax, bp
    call decimal
    mov al, 10
    out dx, al
    inc bp
    jmp .sweep
.bad:
    mov si, mismatch
    call print
    mov ax, bx
    call decimal
    mov al, 10
    out dx, al
.stop:
    hlt
    jmp .stop

%include "real-mode-console.inc"

label db "sweep ", 0
mismatch db "MISMATCH at page ", 0
deadline dd 0, 0
