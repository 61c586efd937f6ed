; bad-checksum.asm -- a multiboot (v1) header whose checksum is off by one: the loader must
; refuse the image with that reason, and the other VMs run.
    org 0x100000
    bits 32
    dd 0x1BADB002
    dd 0x00010000                       ; address fields
    dd -(0x1BADB002 + 0x00010000) + 1   ; wrong
    dd 0x100000, 0x100000, 0, 0, 0x100020
    times 0x20 - ($ - $$) db 0
    cli
    hlt
