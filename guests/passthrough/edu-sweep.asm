; edu-sweep.asm -- a passed-through QEMU "edu" device aimed at the node's RAM above the
; guest's own 16 MiB, one address in each 4 MiB (docs/passthrough.md, "Under AMD-Vi"). The
; guest loads a 2 KiB signature into the device (DMA from its own RAM: must work), then has
; the device write it to DMA address 16 MiB + 4N MiB + (N mod 4) MiB + 0x800 for N = 0..59,
; i.e. up to the top of a 256 MiB node and of edu's default 28-bit DMA reach, each MiB offset
; within a 4 MiB block taken 15 times. (Every MiB, 240 writes, took 24 s: edu completes a
; DMA 100 ms after its command.) Without an IOMMU those are host-physical
; addresses: the hypervisor's heap, frames and page tables, another VM's RAM. Through the
; VM's domain they are guest-physical addresses past its RAM, which the domain does not map:
; every write must be refused, which the node's checksums and the bystander VM's check of its
; RAM show (QEMU 7.2's amd-iommu logs no event for them: docs/iommu.md). Then the guest
; scans its own RAM from 1 MiB to 16 MiB for the signature: it must appear only where it
; was loaded from (a write refused is not redirected into its RAM either).
; PASS edu-found, sweep-loaded, sweep-commands-done, sweep-own-ram-clean; then DONE.

%include "lib.inc"
%include "pmode.inc"
%include "edu.inc"

SIGNATURE_AT equ 0x00100000             ; 1 MiB: the signature in the guest's RAM
EDU_BUFFER  equ 0x40000                 ; the device's buffer (device address)
FIRST       equ 0x01000800              ; 16 MiB + 0x800: the first target
STEP        equ 0x00400000              ; 4 MiB between blocks
TARGETS     equ 60
SALT        equ 0x5E3EC0DE
DMA_BYTES   equ 2048                    ; (QEMU 7.2's edu aborts on a full 4 KiB: edu-dma.asm)

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO passthrough edu-sweep starting", 10
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

    ; The signature: dword i = SALT ^ i, loaded into the device and read back into RAM at
    ; 2 MiB (own-RAM DMA both ways works).
    mov edi, SIGNATURE_AT
    xor ecx, ecx
.fill:
    mov eax, ecx
    xor eax, SALT
    mov [edi + ecx * 4], eax
    inc ecx
    cmp ecx, DMA_BYTES / 4
    jb .fill
    mov eax, SIGNATURE_AT
    mov edx, EDU_BUFFER
    mov ecx, 1                          ; RAM to device
    call dma
    mov ebx, eax
    mov eax, EDU_BUFFER
    mov edx, 0x00200000
    mov ecx, 3                          ; device to RAM
    call dma
    or ebx, eax
    mov esi, SIGNATURE_AT
    mov edi, 0x00200000
    mov ecx, DMA_BYTES / 4
    repe cmpsd
    or ebx, ecx
    CHECK z, "sweep-loaded", "left=", ebx

    ; The sweep: every write must complete as a command (edu finishes it whatever the IOMMU
    ; said) and land nowhere.
    mov dword [pending], 0
    xor esi, esi
.sweep:
    mov edx, esi
    and edx, 3
    shl edx, 20                         ; (N mod 4) MiB into the block
    add edx, FIRST
    mov eax, esi
    imul eax, STEP
    add edx, eax
    mov eax, EDU_BUFFER
    mov ecx, 3
    call dma
    or [pending], eax
    inc esi
    cmp esi, TARGETS
    jb .sweep
    mov eax, [pending]
    CHECK z, "sweep-commands-done", "cmd=", eax
    PRINT "INFO edu-sweep wrote to "
    mov eax, TARGETS
    call put_dec
    PRINT " addresses from 0x01000800 to 0x0ff00800", 10

    ; Its own RAM: the signature's first dword only at 1 MiB and 2 MiB (where it was put).
    mov edi, 0x00100000
    xor ebx, ebx                        ; matches
.scan:
    cmp dword [edi], SALT
    jne .next
    cmp dword [edi + 4], SALT ^ 1
    jne .next
    inc ebx
.next:
    add edi, 4
    cmp edi, 0x01000000
    jb .scan
    mov eax, ebx
    cmp eax, 2
    CHECK e, "sweep-own-ram-clean", "signatures=", eax
    jmp finish

; EAX = source, EDX = destination, ECX = command: a DMA_BYTES transfer (`edu_dma`).
dma:
    push ebx
    push esi
    mov ebx, [bar]
    mov esi, DMA_BYTES
    call edu_dma
    pop esi
    pop ebx
    ret

[section .data]
bar:            dd 0
pending:        dd 0
__?SECT?__

    EMIT_EDU
    EMIT_LIB
