; edu-dma.asm -- a passed-through QEMU "edu" device (docs/specs/edu.rst: 1234:11e8, BAR0 1 MiB,
; a DMA engine between RAM and its 4 KiB buffer at device address 0x40000) seen from a flat
; guest (profile with <passthrough pci=...>, which gives the VM its PCI bus:
; docs/passthrough.md). 32-bit protected mode without paging. Finds the function on bus 0
; through ports 0xCF8/0xCFC, checks its identity and liveness register through the BAR,
; counts the exits 20,000 BAR accesses cost (nested paging maps the BAR: goal none), DMAs a
; pattern from its RAM into the device and back to other RAM (works), then the attacks:
; moves the BAR onto its own RAM (the RAM stays RAM, the device is reached nowhere), moves it
; elsewhere in the window (the device follows), turns decoding off (all ones), aims its MSI
; at its own RAM (nothing written), reads another function and bus (all ones), and last DMAs
; to and from guest-physical addresses outside its 16 MiB of RAM (0x02000000, 0x0FFFF000):
; the IOMMU blocks them (the node reports the fault), its own RAM beyond the target intact.
; PASS edu-found, edu-identity, edu-liveness, bar-access-exits, dma-into-device,
; dma-own-memory, bar-on-ram-is-ram, bar-on-ram-not-device, bar-moved-follows,
; bar-old-place-empty, decode-off-all-ones, decode-on-again, msi-capability-virtual,
; msi-at-ram-writes-nothing,
; other-function-absent, other-bus-absent, dma-outside-done, dma-outside-ram-intact;
; prints INFO lines with the exit counts; then DONE and exit code = failures.

%include "lib.inc"
%include "pmode.inc"
%include "edu.inc"

WINDOW      equ 0xC0000000
MOVED       equ 0xC8000000
PATTERN_AT  equ 0x00100000              ; 1 MiB: the pattern in the guest's RAM
COPY_AT     equ 0x00200000              ; where the device writes it back
EDU_BUFFER  equ 0x40000                 ; the device's buffer (device address)
ACCESSES    equ 10000
; QEMU 7.2's edu aborts the whole emulator (hw_error) unless the transfer ends strictly
; before the buffer's end (edu_check_range), so half of it is used.
DMA_BYTES   equ 2048

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    PRINT "INFO passthrough edu-dma starting", 10

    ; Find 1234:11e8 in slots 1-31 of bus 0: ESI = its CONFIG_ADDRESS (register 0).
    call edu_find
    cmp eax, EDU_IDS
    CHECK e, "edu-found", "ids=", eax
    cmp eax, EDU_IDS                    ; (CHECK clobbers the flags)
    jne near finish
    mov eax, 0x10
    call config_read
    and eax, 0xFFFFFFF0
    mov [bar], eax
    PRINT "INFO edu BAR0 at 0x"
    call put_hex
    PRINT 10
    ; Memory space and bus master on (PCI Local Bus 3.0 §6.2.2).
    mov eax, 0x04
    mov ebx, 0x0006
    call config_write

    mov ebx, [bar]
    mov eax, [ebx]
    and eax, 0xFFFF
    cmp eax, 0x00ED                     ; 0xRRrr00ed: major, minor, then 00ed
    CHECK e, "edu-identity", "id=", eax
    mov dword [ebx + 4], 0x12345678     ; liveness: reads back inverted
    mov eax, [ebx + 4]
    cmp eax, ~0x12345678
    CHECK e, "edu-liveness", "read=", eax

    ; Exits of ACCESSES writes and ACCESSES reads of the liveness register.
    call total_exits
    mov [exits_before], eax
    mov ecx, ACCESSES
    mov ebx, [bar]
.touch:
    mov [ebx + 4], ecx
    mov eax, [ebx + 4]
    dec ecx
    jnz .touch
    call total_exits
    sub eax, [exits_before]
    mov [exits_delta], eax
    PRINT "INFO bar-access exits="
    call put_dec
    PRINT " for 20000 accesses", 10
    cmp eax, 100
    CHECK b, "bar-access-exits", "exits=", eax

    ; DMA: a pattern from RAM into the device, then from the device to other RAM.
    mov edi, PATTERN_AT
    mov ecx, DMA_BYTES / 4
    mov eax, 0xA5000000
.fill:
    mov [edi], eax
    inc eax
    add edi, 4
    dec ecx
    jnz .fill
    mov eax, PATTERN_AT
    mov edx, EDU_BUFFER
    mov ecx, 1                          ; start, RAM to device
    call dma
    CHECK z, "dma-into-device", "cmd=", eax
    mov eax, EDU_BUFFER
    mov edx, COPY_AT
    mov ecx, 3                          ; start, device to RAM
    call dma
    mov esi, PATTERN_AT
    mov edi, COPY_AT
    mov ecx, DMA_BYTES / 4
    repe cmpsd
    mov eax, ecx
    CHECK e, "dma-own-memory", "left=", eax

    ; The BAR moved onto the guest's own RAM: that RAM stays RAM (the pattern reads back and
    ; a write lands in RAM), nothing of the device is reached there.
    mov eax, 0x10
    mov ebx, PATTERN_AT
    call config_write
    mov eax, [PATTERN_AT]
    cmp eax, 0xA5000000
    CHECK e, "bar-on-ram-is-ram", "read=", eax
    mov dword [PATTERN_AT + 4], 0x12345678
    mov eax, [PATTERN_AT + 4]
    cmp eax, 0x12345678                 ; the device would have inverted it
    CHECK e, "bar-on-ram-not-device", "read=", eax
    ; Moved elsewhere in the window: the device answers there, and not at the old place.
    mov eax, 0x10
    mov ebx, MOVED
    call config_write
    mov dword [MOVED + 4], 0x0F0F0F0F
    mov eax, [MOVED + 4]
    cmp eax, 0xF0F0F0F0
    CHECK e, "bar-moved-follows", "read=", eax
    mov ebx, [bar]
    mov eax, [ebx + 4]
    cmp eax, 0xFFFFFFFF
    CHECK e, "bar-old-place-empty", "read=", eax
    mov eax, 0x10
    mov ebx, [bar]
    call config_write
    ; Decoding off: all ones; on: the device again.
    mov eax, 0x04
    mov ebx, 0x0004
    call config_write
    mov ebx, [bar]
    mov eax, [ebx]
    cmp eax, 0xFFFFFFFF
    CHECK e, "decode-off-all-ones", "read=", eax
    mov eax, 0x04
    mov ebx, 0x0006
    call config_write
    mov ebx, [bar]
    mov eax, [ebx]
    and eax, 0xFFFF
    cmp eax, 0x00ED
    CHECK e, "decode-on-again", "id=", eax

    ; MSI aimed at memory: the guest's virtual MSI capability (ID 05) gets address 0x200000
    ; (its own RAM) and data 0xBEEF, enabled; edu raises its interrupt. A device's own MSI
    ; is a memory write; here the node sends the guest's message to the VM's MSI receiver,
    ; which drops an address outside 0xFEExxxxx: the RAM there is unchanged.
    mov dword [COPY_AT], 0x22222222
    mov eax, 0x34
    call config_read
    and eax, 0xFC
    xor edi, edi
    mov ecx, 48
.cap:
    cmp eax, 0x40
    jb .caps_done
    mov ebx, eax
    call config_read
    cmp al, 0x05
    jne .next_cap
    mov edi, ebx
.next_cap:
    shr eax, 8
    and eax, 0xFC
    dec ecx
    jnz .cap
.caps_done:
    mov eax, edi
    cmp eax, 0
    CHECK ne, "msi-capability-virtual", "offset=", eax
    test edi, edi
    jz .msi_done
    lea eax, [edi + 4]
    mov ebx, COPY_AT
    call config_write
    lea eax, [edi + 8]
    xor ebx, ebx
    call config_write
    lea eax, [edi + 12]
    mov ebx, 0xBEEF
    call config_write
    mov eax, edi
    call config_read
    or eax, 1 << 16
    mov ebx, eax
    mov eax, edi
    call config_write
    mov ebx, [bar]
    mov dword [ebx + 0x60], 1           ; raise
    mov ecx, 20000000
.settle:
    pause
    dec ecx
    jnz .settle
    mov ebx, [bar]
    mov eax, [ebx + 0x24]
    mov [ebx + 0x64], eax               ; acknowledge
    mov eax, edi
    call config_read
    and eax, ~(1 << 16)
    mov ebx, eax
    mov eax, edi
    call config_write
.msi_done:
    mov eax, [COPY_AT]
    cmp eax, 0x22222222
    CHECK e, "msi-at-ram-writes-nothing", "read=", eax
    ; Function 1 of the slot and bus 1: nothing.
    mov eax, [config]
    or eax, 1 << 8
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    cmp eax, 0xFFFFFFFF
    CHECK e, "other-function-absent", "read=", eax
    mov eax, [config]
    or eax, 1 << 16
    mov dx, 0xCF8
    out dx, eax
    mov dx, 0xCFC
    in eax, dx
    cmp eax, 0xFFFFFFFF
    CHECK e, "other-bus-absent", "read=", eax

    ; DMA outside the guest's RAM: the IOMMU's domain has no entry there (the node reports
    ; a fault). The device finishes the command; the guest's own RAM is untouched.
    mov dword [COPY_AT], 0x11111111
    mov eax, EDU_BUFFER
    mov edx, 0x02000000                 ; device to RAM at 32 MiB: beyond the 16 MiB
    mov ecx, 3
    call dma
    mov ebx, eax
    mov eax, EDU_BUFFER
    mov edx, 0x0FFFF000                 ; the top of edu's 28-bit DMA reach
    mov ecx, 3
    call dma
    or ebx, eax
    mov eax, 0x03000000                 ; RAM to device, from outside
    mov edx, EDU_BUFFER
    mov ecx, 1
    call dma
    or eax, ebx
    CHECK z, "dma-outside-done", "cmd=", eax
    mov eax, [COPY_AT]
    cmp eax, 0x11111111
    CHECK e, "dma-outside-ram-intact", "read=", eax
    PRINT "INFO dma-outside issued", 10
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
exits_before:   dd 0
exits_delta:    dd 0
__?SECT?__

    EMIT_EDU
    EMIT_LIB
