; viommu-edu.asm -- the emulated edu device behind the VM's virtual VT-d unit (profile
; `apic=on iommu=vtd edu=on`; docs/virtual-iommu.md), from a flat guest in 32-bit protected
; mode without paging. Finds edu on bus 0, builds a root table, the context entry of edu's
; requester id (TT 0, AW 1: 3 levels, faults recorded) and second-level tables mapping IOVA
; 0 to a page at 2 MiB, points the unit at them (RTADDR, GCMD.SRTP, GCMD.TE), then:
; edu DMAs 4 bytes from IOVA 0 into its buffer and back to IOVA 4 (the page gets the word at
; +4; guest-physical 0-7 untouched), and DMAs to the unmapped IOVA 3 MiB (the unit blocks
; it: memory there intact, FSTS.PPF set, the fault record names edu, a write, reason 5).
; PASS edu-found, vtd-version, vtd-root-latched, vtd-translation-on, dma-translated,
; dma-iova-not-physical, dma-unmapped-blocked, fault-pending, fault-record-source,
; fault-record-reason; then DONE and exit code = failures.

%include "lib.inc"
%include "pmode.inc"
%include "edu.inc"

VTD         equ 0xFED90000              ; the q35 unit's register page
GCMD        equ 0x18
GSTS        equ 0x1C
RTADDR      equ 0x20
FSTS        equ 0x34
FRCD        equ 0x220                   ; the fault record (CAP.FRO = 0x22)
TE          equ 1 << 31
SRTP        equ 1 << 30

ROOT        equ 0x00100000              ; root table (bus 0 entry)
CONTEXT     equ 0x00101000
LEVEL3      equ 0x00102000
LEVEL2      equ 0x00103000
LEVEL1      equ 0x00104000
PAGE        equ 0x00200000              ; what IOVA 0 maps to
SENTINEL_AT equ 0x00300000              ; unmapped IOVA, and guest-physical RAM
EDU_BUFFER  equ 0x40000
TEST_WORD   equ 0xC0FFEE11

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO viommu-edu starting", 10
    call edu_find
    cmp eax, EDU_IDS
    CHECK e, "edu-found", "ids=", eax
    cmp eax, EDU_IDS
    jne near finish
    mov eax, 0x10
    call config_read
    and eax, 0xFFFFFFF0
    mov [bar], eax
    mov eax, 0x04                       ; memory space and bus master
    mov ebx, 0x0006
    call config_write
    mov eax, [config]                   ; CONFIG_ADDRESS: device in bits 15:11
    shr eax, 8
    and eax, 0xF8                       ; devfn = device << 3, function 0
    mov [devfn], eax

    mov eax, [VTD]
    shr eax, 4
    cmp eax, 1
    CHECK ae, "vtd-version", "ver=", eax

    ; Root entry for bus 0 -> context table; edu's context entry: P, TT 0, SLPTPTR LEVEL3;
    ; AW 1 (39-bit), domain 1. Level 3 -> level 2 -> level 1 -> PAGE, read and write.
    mov dword [ROOT], CONTEXT | 1
    mov edi, [devfn]
    shl edi, 4
    add edi, CONTEXT
    mov dword [edi], LEVEL3 | 1
    mov dword [edi + 8], 1 | (1 << 8)
    mov dword [LEVEL3], LEVEL2 | 3
    mov dword [LEVEL2], LEVEL1 | 3
    mov dword [LEVEL1], PAGE | 3

    mov dword [VTD + RTADDR], ROOT
    mov dword [VTD + RTADDR + 4], 0
    mov dword [VTD + GCMD], SRTP
    mov eax, [VTD + GSTS]
    and eax, SRTP
    CHECK nz, "vtd-root-latched", "gsts=", eax
    mov eax, [VTD + GSTS]
    or eax, TE
    mov [VTD + GCMD], eax
    mov eax, [VTD + GSTS]
    and eax, TE
    CHECK nz, "vtd-translation-on", "gsts=", eax

    ; kvm-unit-tests' vtd_test_dmar: IOVA 0 -> buffer, buffer -> IOVA 4.
    mov dword [PAGE], TEST_WORD
    mov dword [0], 0x5A5A5A5A           ; guest-physical 0-7: must stay
    mov dword [4], 0x5A5A5A5A
    xor eax, eax
    mov edx, EDU_BUFFER
    mov ecx, 1
    call dma
    mov eax, EDU_BUFFER
    mov edx, 4
    mov ecx, 3
    call dma
    mov eax, [PAGE + 4]
    cmp eax, TEST_WORD
    CHECK e, "dma-translated", "read=", eax
    mov eax, [4]
    cmp eax, 0x5A5A5A5A
    CHECK e, "dma-iova-not-physical", "read=", eax

    ; An unmapped IOVA: blocked, the RAM at that guest-physical address intact.
    mov dword [SENTINEL_AT], 0x11111111
    mov eax, EDU_BUFFER
    mov edx, SENTINEL_AT
    mov ecx, 3
    call dma
    mov eax, [SENTINEL_AT]
    cmp eax, 0x11111111
    CHECK e, "dma-unmapped-blocked", "read=", eax
    mov eax, [VTD + FSTS]
    and eax, 2                          ; PPF
    CHECK nz, "fault-pending", "fsts=", eax
    mov eax, [VTD + FRCD + 8]           ; SID in 15:0
    and eax, 0xFFFF
    cmp eax, [devfn]
    CHECK e, "fault-record-source", "sid=", eax
    mov eax, [VTD + FRCD + 12]          ; F (31), T (30) 0 = write, FR (7:0)
    cmp eax, 0x80000005
    CHECK e, "fault-record-reason", "high=", eax
    jmp finish

; EAX = source, EDX = destination, ECX = command: a 4-byte transfer (`edu_dma`).
dma:
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
devfn:          dd 0
__?SECT?__

    EMIT_EDU
    EMIT_LIB
