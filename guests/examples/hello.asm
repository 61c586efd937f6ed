; The smallest useful Peregrine guest, for the README's "bring your own guest": a flat
; binary that runs in real mode, prints a line on COM1 and stops its VM with exit code 0
; through the debug-exit port. Build and boot it with
;   make run FLAT_GUEST=build/guests/examples/hello.bin FLAT_ARGS='load=0x7c00 entry=0000:7c00 mem=8M'
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
    jz .done
    out dx, al
    jmp .next
.done:
    xor eax, eax
    out 0xF4, eax                    ; stop this VM, exit code 0
    hlt
message: db "Hello from a flat guest at 0x7c00", 10, 0
