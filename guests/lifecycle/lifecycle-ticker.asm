; A guest that keeps time by its TSC, for the pause test (manage_test=): it prints
; "tick N" each time INTERVAL more TSC cycles have passed, TICKS times, then stops its VM
; with exit code 0 through the debug-exit port. A paused VM's guest time stands still
; (docs/lifecycle.md): a tick that finds its deadline passed by more than JUMP saw its
; clock jump (the pause, 4 s, showing in its TSC), and the guest stops with exit code 1
; ("clock jumped"). Flat, real mode: load=0x7c00 entry=0000:7c00.
; These figures suit QEMU's TSC (2.1 GHz, host time: on a loaded host, its own scheduling
; shows as jumps of up to ~1.7 s); lifecycle-ticker-bochs.asm sets Bochs's (100 MHz,
; emulated time, no noise; paused 2 s).
%ifndef INTERVAL
%define INTERVAL 0x4000000          ; 67M cycles: 32 ms at 2.1 GHz
%define JUMP     0xC0000000         ; 3.2G cycles: 1.53 s
%endif
TICKS    equ 12
    org 0x7C00
bits 16
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    rdtsc
    mov [deadline], eax
    mov [deadline + 4], edx
    xor bp, bp                      ; ticks printed
.tick:
    add dword [deadline], INTERVAL
    adc dword [deadline + 4], 0
.wait:
    rdtsc
    sub eax, [deadline]
    sbb edx, [deadline + 4]         ; edx:eax = now - deadline (signed)
    js .wait                        ; not yet
    ; Passed: by more than a whole interval means the clock jumped forward.
    test edx, edx
    jnz .jumped
    cmp eax, JUMP
    ja .jumped
    mov si, tick
    call print
    mov ax, bp
    call digits
    mov al, 10
    call putc
    inc bp
    cmp bp, TICKS
    jb .tick
    xor eax, eax
    out 0xF4, eax                   ; stop this VM, exit code 0
    hlt
.jumped:
    mov si, jumped
    call print
    mov eax, 1
    out 0xF4, eax                   ; exit code 1
    hlt

; Prints AX (below 100) in decimal.
digits:
    mov bl, 10
    div bl                          ; al = tens, ah = units
    test al, al
    jz .units
    push ax
    add al, '0'
    call putc
    pop ax
.units:
    mov al, ah
    add al, '0'
    jmp putc

print:
    lodsb
    test al, al
    jz .done
    call putc
    jmp print
.done:
    ret

putc:
    mov dx, 0x3F8
    out dx, al
    ret

tick: db "tick ", 0
jumped: db "clock jumped: a tick came too late", 10, 0
deadline: dd 0, 0
