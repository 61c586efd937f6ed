; bios-wrapper.nasm -- smoke-test harness, NOT a guest (hence not .asm: guests.mk skips it).
; A 64 KiB QEMU "-bios" image that copies the guest binary GUEST (nasm -DGUEST='"path"') to
; 0x1000 and jumps to 0000:1000 in real mode with zeroed registers, approximating how
; Peregrine starts a guest, so the guests' mode switches and output can be tried on bare
; QEMU. Hypervisor-specific checks (CPUID leaves, hypercalls, the MMIO test device) fail
; there, as they should. See run.sh.
    bits 16
    org 0
start:
    cli
    cld
    mov ax, 0xF000
    mov ds, ax
    xor ax, ax
    mov es, ax
    mov ss, ax
    mov si, payload
    mov di, 0x1000
    mov cx, payload_end - payload
    rep movsb
    xor ax, ax
    mov ds, ax
    mov fs, ax
    mov gs, ax
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    xor esp, esp
    jmp 0x0000:0x1000
payload:
    incbin GUEST
payload_end:
    times 0xFFF0 - ($ - $$) db 0xFF
    jmp 0xF000:start            ; the reset vector (F000:FFF0)
    times 0x10000 - ($ - $$) db 0xFF
