; noise-boot-sector.asm -- a boot sector that runs a Peregrine flat guest bare under QEMU:
; the BIOS loads this sector at 0x7C00; it reads the next SECTORS sectors of the boot disk
; (the guest image, org 0x1000) to 0000:1000 with INT 13h AH=42h (LBA) and jumps there in
; real mode with interrupts off, as Peregrine starts a flat guest. Used by
; scripts/bench/os-noise.sh for the native side of the OS-noise figure.
;   nasm -f bin -D SECTORS=n -o sector.bin noise-boot-sector.asm
    bits 16
    org 0x7C00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov si, packet
    mov ah, 0x42                ; extended read; DL = the boot drive, from the BIOS
    int 0x13
    jc .failed
    cli
    jmp 0x0000:0x1000
.failed:
    mov dx, 0x3F8
    mov al, '!'
    out dx, al
    mov dx, 0xF4                ; isa-debug-exit: QEMU exits with status 3
    mov al, 1
    out dx, al
    hlt

    align 4
packet:
    db 16, 0                    ; size of the packet, reserved
    dw SECTORS                  ; sectors to read
    dw 0x1000, 0x0000           ; offset, segment of the buffer
    dq 1                        ; first LBA: right after this sector

    times 510 - ($ - $$) db 0
    dw 0xAA55
