; edu-msi-inject.asm -- a passed-through QEMU "edu" device used to forge interrupts
; (docs/iommu.md "Interrupt remapping"): its DMA engine writes one dword into the interrupt
; address range 0xFEExxxxx, which the platform takes as an MSI from edu. With VT-d interrupt
; remapping on and compatibility format off (CFIS clear), none of these may reach the node:
;   compat-0x60   0xFEE00000 data 0x60: compatibility format, a vector nothing on the node uses
;   compat-0x4f   0xFEE00000 data 0x4F: compatibility format, a passthrough vector no function holds
;   remap-absent  remappable, handle 200: an entry the node never filled (VT-d fault 0x22)
;   remap-beyond  remappable, handle 0x7FFF: past the 256-entry table (fault 0x21)
;   remap-nic     remappable, handle 0 without SHV (address 0xFEE00010, data 0x40): the
;                 node's first entry (its management NIC's MSI-X), which names another
;                 source id (fault 0x26)
; The node needs edu's full 32-bit DMA reach (-device edu,dma_mask=0xffffffff). The guest
; only checks that each transfer completed; what the node saw is read from its console.
; PASS edu-found, inject-<name> for each; then DONE and exit code = failures.

%include "lib.inc"
%include "pmode.inc"
%include "edu.inc"

EDU_BUFFER  equ 0x40000                 ; the device's buffer (device address)
WORD_AT     equ 0x00100000              ; the dword to send, in the guest's RAM

%macro INJECT 3                         ; name, address, data
    mov eax, %2
    mov edx, %3
    call inject
    CHECK z, %1, "cmd=", eax
%endmacro

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO passthrough edu-msi-inject starting", 10
    call edu_find
    cmp eax, EDU_IDS
    CHECK e, "edu-found", "ids=", eax
    cmp eax, EDU_IDS
    jne near finish
    mov eax, 0x10
    call config_read
    and eax, 0xFFFFFFF0
    mov [bar], eax
    mov eax, 0x04
    mov ebx, 0x0006                     ; memory space, bus master
    call config_write

    INJECT "inject-compat-0x60", 0xFEE00000, 0x60
    INJECT "inject-compat-0x4f", 0xFEE00000, 0x4F
    INJECT "inject-remap-absent", 0xFEE00000 | (200 << 5) | 0x18, 0
    INJECT "inject-remap-beyond", 0xFEE00000 | (0x7FFF << 5) | 0x18, 0
    INJECT "inject-remap-nic", 0xFEE00010, 0x40
    PRINT "INFO inject issued", 10
    ; A moment for the node to take (or not) the interrupts before the VM ends.
    mov ecx, 50000000
.settle:
    pause
    dec ecx
    jnz .settle
    jmp finish

; EAX = interrupt address, EDX = data: the dword goes RAM -> edu's buffer -> EAX. EAX = the
; command register after the second transfer, 0 when both completed.
inject:
    push ebx
    push ecx
    push esi
    mov esi, eax
    mov [WORD_AT], edx
    mov eax, WORD_AT
    mov edx, EDU_BUFFER
    mov ecx, 1                          ; start, RAM to device
    call dma4
    mov ebx, eax
    mov eax, EDU_BUFFER
    mov edx, esi
    mov ecx, 3                          ; start, device to RAM (here: the interrupt range)
    call dma4
    or eax, ebx
    pop esi
    pop ecx
    pop ebx
    ret

; EAX = source, EDX = destination, ECX = command: a 4-byte transfer (`edu_dma`).
dma4:
    push ebx
    push esi
    mov ebx, [bar]
    mov esi, 4
    call edu_dma
    pop esi
    pop ebx
    ret

[section .data]
bar:            dd 0
__?SECT?__

    EMIT_EDU
    EMIT_LIB
