; config-space.asm -- the VM's PCI bus 0 seen from a flat guest (profile "apic=on", which
; gives the VM its PCI platform: docs/guest-io.md). In 32-bit protected mode without paging
; it reads the host bridge at 00.0 through configuration mechanism #1 (ports 0xCF8/0xCFC,
; PCI Local Bus 3.0 §3.2.2.3.2) and through ECAM at 0xE0000000 (PCIe Base 4.0 §7.2.2), writes
; its command register through one and reads it back through the other, and checks that an
; absent slot, a function other than 0 and an empty part of the BAR window read all ones.
; PASS cf8-latch-reads-back, cf8-host-bridge-ids, cf8-host-bridge-class, cf8-byte-and-word,
; cf8-absent-slot, ecam-host-bridge-ids, ecam-word-and-byte, ecam-absent-slot,
; ecam-absent-function, ecam-write-seen-through-cf8, bar-window-empty; then DONE and exit
; code = failures.

%include "lib.inc"
%include "pmode.inc"

ECAM        equ 0xE0000000
BAR_WINDOW  equ 0xC0000000
HOST_IDS    equ 0x00081B36              ; vendor 0x1B36, device 0x0008

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO pci config-space starting", 10

    ; Mechanism #1: the address latch, then the data window.
    mov dx, 0xCF8
    mov eax, 0x80000000                 ; enable, bus 0, device 0, function 0, register 0
    out dx, eax
    in eax, dx
    cmp eax, 0x80000000
    CHECK e, "cf8-latch-reads-back", "latch=", eax
    mov dx, 0xCFC
    in eax, dx
    cmp eax, HOST_IDS
    CHECK e, "cf8-host-bridge-ids", "ids=", eax
    mov dx, 0xCF8
    mov eax, 0x80000008                 ; revision and class
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    shr eax, 8
    cmp eax, 0x060000
    CHECK e, "cf8-host-bridge-class", "class=", eax
    mov dx, 0xCF8
    mov eax, 0x80000000
    out dx, eax
    xor eax, eax
    mov dx, 0xCFE                       ; the device ID's word
    in ax, dx
    mov ebx, eax
    mov dx, 0xCFD                       ; the vendor ID's high byte
    in al, dx
    shl ebx, 8
    mov bl, al
    cmp ebx, 0x00081B
    CHECK e, "cf8-byte-and-word", "got=", ebx
    mov dx, 0xCF8
    mov eax, 0x80000000 | (5 << 11)     ; slot 5: nothing there
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    cmp eax, 0xFFFFFFFF
    CHECK e, "cf8-absent-slot", "read=", eax

    ; ECAM: bus 0 at 0xE0000000, device in bits 19:15, function in 14:12.
    mov eax, [ECAM]
    cmp eax, HOST_IDS
    CHECK e, "ecam-host-bridge-ids", "ids=", eax
    movzx eax, word [ECAM + 2]
    movzx ebx, byte [ECAM + 0xB]
    shl eax, 8
    or eax, ebx
    cmp eax, 0x000806
    CHECK e, "ecam-word-and-byte", "got=", eax
    mov eax, [ECAM + (3 << 15)]
    cmp eax, 0xFFFFFFFF
    CHECK e, "ecam-absent-slot", "read=", eax
    mov eax, [ECAM + (1 << 12)]
    cmp eax, 0xFFFFFFFF
    CHECK e, "ecam-absent-function", "read=", eax

    ; Both mechanisms reach one configuration space: memory space enable written by ECAM.
    mov word [ECAM + 4], 0x0002
    mov dx, 0xCF8
    mov eax, 0x80000004
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    and eax, 0xFFFF
    cmp eax, 0x0002
    CHECK e, "ecam-write-seen-through-cf8", "command=", eax
    mov word [ECAM + 4], 0

    ; The BAR window holds no BAR yet: all ones, and the VM keeps running.
    mov eax, [BAR_WINDOW + 0x1000]
    cmp eax, 0xFFFFFFFF
    CHECK e, "bar-window-empty", "read=", eax
    jmp finish

    EMIT_LIB
