; v2-kludge.asm -- a multiboot2 test kernel in flat binary form: its header's address tag
; (the a.out kludge) loads the whole file at 2 MiB with a bss after it, and its entry address
; tag names the entry. It asks for the ACPI RSDP tags (a required information request).
; Checks: guests/include/multiboot-checks.inc. Profile: vm name=mbtest-v2 kind=multiboot
; mem=16M -- hello=world, with a module "module vm=mbtest-v2 mod-one".

MB_VERSION equ 2
LOAD_ADDRESS equ 0x200000

    org LOAD_ADDRESS
    bits 32
    align 8
multiboot2_header:
    dd 0xE85250D6                       ; magic
    dd 0                                ; architecture: i386 protected mode
    dd header_end - multiboot2_header
    dd -(0xE85250D6 + (header_end - multiboot2_header))
    align 8
    dw 1, 0                             ; information request, required
    dd 8 + 4 * 4
    dd 1, 6, 14, 15                     ; command line, memory map, both RSDPs
    align 8
    dw 2, 0                             ; address tag
    dd 24
    dd multiboot2_header                ; header_addr
    dd LOAD_ADDRESS                     ; load_addr
    dd 0                                ; load_end_addr: the whole file
    dd mb_stack_top                     ; bss_end_addr
    align 8
    dw 3, 0                             ; entry address tag
    dd 12
    dd mb_entry
    align 8
    dw 0, 0                             ; end
    dd 8
header_end:

%include "multiboot-checks.inc"

[section .bss]
    resb 8192
mb_stack_top:
