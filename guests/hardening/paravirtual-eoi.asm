; paravirtual-eoi.asm -- a hostile guest of KVM's paravirtual EOI (docs/guest-abi.md,
; "Paravirtual EOI"), through the real exits: profile "apic=on" (16 MiB of RAM, the default).
; 32-bit protected mode, xAPIC. Checks, in order:
;   kvm-signature-ebx/-ecx/-edx   CPUID 0x4000_0100 reads "KVMKVMKVM\0\0\0" ...
;   kvm-leaf-max                  ... with EAX >= 0x4000_0101
;   kvm-feature-pv-eoi            CPUID 0x4000_0101 EAX bit 6 (KVM_FEATURE_PV_EOI)
;   msr-zero-at-reset             RDMSR 0x4B56_4D04 reads 0, no #GP
;   off-any-address-accepted      WRMSR of 0xFEE0_0000 with bit 0 (enable) clear: accepted and
;                                 read back (KVM's rule: no address is needed while off)
;   enable-accepted               WRMSR FLAG | 1 (FLAG inside RAM, 4-byte aligned): read back
;   refused-<what>                each hostile value below raises exactly one #GP and RDMSR
;                                 still reads the last accepted value (FLAG | 1): misaligned
;                                 (bit 1, enabled and disabled), straddling and at the end of
;                                 RAM, host memory beyond it (1 GiB, 4 GiB), FLAG aliased by
;                                 bit 32, bit 52 and bit 63, above 2^52, the local APIC page
;                                 and its EOI register, the I/O APIC, the MMIO test device
;                                 page, PCI ECAM, all ones, all ones but bit 1, the canonical
;                                 high half
;   last-word-of-ram-accepted     RAM's end - 4 (enabled) is accepted and read back ...
;   refused-after-last-word       ... and RAM's end is still refused, leaving that value
;   kernel-address-accepted       FLAG at guest-physical 0x200000, where the hypervisor's own
;                                 kernel is loaded in host memory: accepted, and it is ...
;   kernel-address-self-ipi       ... the guest's RAM: a self-IPI arrives, its handler finds
;   kernel-address-flag-set       bit 0 set at guest-physical 0x200000 (the hypervisor wrote
;                                 the guest's byte, not its own) and EOIs by clearing it;
;   kernel-address-canary         the 32 bytes around it are unchanged; ISR empty after
;   kernel-address-isr-empty
;   self-ipis-arrive              20 self-IPIs with the flag in a canary page: all arrive ...
;   self-ipis-flag-set            ... the hypervisor had set the flag for every one ...
;   self-ipis-isr-empty           ... and each was retired by clearing it (ISR empty)
;   move-in-handler-*             a self-IPI whose handler, its vector in service and the flag
;                                 set (-flag-was-set), moves the flag to FLAG2 (-accepted): the
;                                 old flag's byte is as before (-old-flag-cleared), the new one
;                                 has bit 0 set (-new-flag-set), the EOI goes through it
;                                 (-eoi-through-new-flag), nothing stays in service (-isr-empty)
;   off-in-handler-*              another, whose handler clears the flag and then turns it off
;                                 (-arrives, -flag-was-set, -accepted): its vector is out of
;                                 service before its IRET (-eoi-made-by-then), the flag's bit
;                                 clear (-flag-clear), ISR empty after (-isr-empty)
;   moved-while-interrupted-accepted  WRMSR FLAG2 | 1 with the timer running: accepted
;   timer-keeps-arriving          the LAPIC timer (periodic) keeps interrupting: 40 ticks, the
;                                 flag moved to a second address half-way (WRMSR with
;                                 interrupts on) ...
;   timer-eois-through-flag       ... at least 20 of them EOId through the flag
;   timer-isr-empty               no vector stuck in service after the timer is stopped
;   moved-flag-left-clean         the old flag's byte is as the guest left it (bit 0 clear)
;   canary-intact                 no byte of the canary page changed but bit 0 of the flags
;   off-timer-arrives             turned off: 10 more ticks arrive, EOId through the register,
;   off-flag-untouched            none through the flag; the page does not change at all
;   scribble-interrupts-keep-coming  random bytes written into the flag byte (up to
;                                 2,000,000) while the timer interrupts and the handler EOIs
;                                 as Linux does; now and then an exit, where a vector left in
;                                 service (the guest's own doing) is EOId by the register, and
;                                 the flag moved between the two addresses: 50 of 200 ticks
;                                 arrive at least, and the VM goes on ...
;   scribble-moves-accepted       ... every move accepted
;   scribble-isr-recovered        ... its stuck vectors (its own doing) EOId by the register
;   scribble-then-timer-arrives   ... and then 20 more ticks, EOId through the flag ...
;   scribble-then-flag-eois
;   scribble-then-isr-empty
;   scribble-canary-intact        ... and no byte of the page changed but the flag byte
;   msr-off-at-end                WRMSR 0 accepted
; Prints "INFO pveoi flag-eois=G refused=R": G counts the EOIs made through the flag outside
; the scribbling, R the #GPs taken (the hypervisor's end report must agree: Tests/Integration/
; cases_paravirtual_eoi.py). Then DONE and stops with the number of failures.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"

PV_EOI_MSR      equ 0x4B564D04
TIMER_VECTOR    equ 0x40
SELF_VECTOR     equ 0x41
MSR_VECTOR      equ 0x42
RAM_END         equ 0x1000000               ; 16 MiB: the profile's default
KERNEL_ADDRESS  equ 0x200000                ; linker.ld: GRUB loads Peregrine there
CANARY          equ 0x300000                ; one page of CANARY_BYTE, two flags inside
CANARY_BYTE     equ 0xC3
FLAG            equ CANARY + 0x800
FLAG2           equ CANARY + 0xC00
FLAG_BYTE       equ 0xA4                    ; bit 0 clear; bits 7:1 must survive
FLAG2_BYTE      equ 0xC2
APIC_ISR        equ 0xFEE00100
APIC_LVT_MASK   equ 1 << 16
WAIT_CYCLES     equ 0x30000000              ; TSC cycles a wait gives up after (8 s on
                                            ; Bochs's 100 MHz TSC; 40 ticks need 8 ms)
SCRIBBLES       equ 2000000                 ; at most; until SCRIBBLE_TICKS
SCRIBBLE_TICKS  equ 200

; HOSTILE low, high, "name": WRMSR of high:low must raise one #GP and leave RDMSR reading
; [accepted_lo/hi].
%macro HOSTILE 3
    mov eax, %1
    mov edx, %2
    call try_hostile
    CHECK e, %3, "gp/readback=", eax
%endmacro

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    call detect_vendor
    call load_idt
    mov eax, gp_handler
    mov ecx, 13
    call set_gate
    mov eax, timer_handler
    mov ecx, TIMER_VECTOR
    call set_gate
    mov eax, self_handler
    mov ecx, SELF_VECTOR
    call set_gate
    mov eax, msr_handler
    mov ecx, MSR_VECTOR
    call set_gate
    PRINT "TEST paravirtual-eoi starting", 10
    mov dword [APIC_SVR], 0x1FF
    mov dword [APIC_LVT_TIMER], APIC_LVT_MASK | TIMER_VECTOR

    ; ---- CPUID ----------------------------------------------------------------------------
    mov eax, 0x40000100
    xor ecx, ecx
    cpuid
    mov esi, eax
    cmp ebx, 0x4B4D564B                     ; "KVMK"
    CHECK e, "kvm-signature-ebx", "ebx=", ebx
    cmp ecx, 0x564B4D56                     ; "VMKV"
    CHECK e, "kvm-signature-ecx", "ecx=", ecx
    cmp edx, 0x0000004D                     ; "M\0\0\0"
    CHECK e, "kvm-signature-edx", "edx=", edx
    cmp esi, 0x40000101
    CHECK ae, "kvm-leaf-max", "eax=", esi
    mov eax, 0x40000101
    xor ecx, ecx
    cpuid
    bt eax, 6
    CHECK c, "kvm-feature-pv-eoi", "eax=", eax

    ; ---- the MSR's rule -------------------------------------------------------------------
    mov dword [gp_count], 0
    mov ecx, PV_EOI_MSR
    rdmsr
    or eax, edx
    or eax, [gp_count]
    CHECK e, "msr-zero-at-reset", "value|gp=", eax

    mov eax, 0xFEE00000                     ; off: any aligned address
    xor edx, edx
    call try_accepted
    CHECK e, "off-any-address-accepted", "gp/readback=", eax
    mov eax, FLAG | 1
    xor edx, edx
    call try_accepted
    CHECK e, "enable-accepted", "gp/readback=", eax

    HOSTILE FLAG | 3, 0, "refused-misaligned-enabled"
    HOSTILE FLAG | 2, 0, "refused-misaligned-disabled"
    HOSTILE (RAM_END - 2) | 1, 0, "refused-straddling-ram-end"
    HOSTILE RAM_END | 1, 0, "refused-at-ram-end"
    HOSTILE 0x40000001, 0, "refused-host-memory-1g"
    HOSTILE 1, 1, "refused-host-memory-4g"
    HOSTILE FLAG | 1, 1, "refused-flag-alias-bit-32"
    HOSTILE FLAG | 1, 0x00100000, "refused-flag-alias-bit-52"
    HOSTILE FLAG | 1, 0x80000000, "refused-flag-alias-bit-63"
    HOSTILE 1, 0x00100000, "refused-above-2-52"
    HOSTILE 0xFEE00001, 0, "refused-local-apic-page"
    HOSTILE APIC_EOI | 1, 0, "refused-local-apic-eoi-register"
    HOSTILE 0xFEC00001, 0, "refused-io-apic-page"
    HOSTILE MMIO_BASE | 1, 0, "refused-mmio-device-page"
    HOSTILE 0xE0000001, 0, "refused-pci-ecam"
    HOSTILE 0xFFFFFFFF, 0xFFFFFFFF, "refused-all-ones"
    HOSTILE 0xFFFFFFFD, 0xFFFFFFFF, "refused-all-ones-but-bit-1"
    HOSTILE 0x00000001, 0xFFFF8000, "refused-canonical-high-half"

    mov eax, (RAM_END - 4) | 1
    xor edx, edx
    call try_accepted
    CHECK e, "last-word-of-ram-accepted", "gp/readback=", eax
    HOSTILE RAM_END | 1, 0, "refused-after-last-word"

    ; ---- the hypervisor's kernel address is the guest's RAM -------------------------------
    mov edi, KERNEL_ADDRESS - 16            ; 32 canary bytes, the flag's byte clear
    mov ecx, 32
    mov al, CANARY_BYTE
    rep stosb
    mov byte [KERNEL_ADDRESS], 0
    mov dword [flag_ptr], KERNEL_ADDRESS
    mov eax, KERNEL_ADDRESS | 1
    xor edx, edx
    call try_accepted
    CHECK e, "kernel-address-accepted", "gp/readback=", eax
    mov dword [seen_flag], 0
    mov dword [flag_seen_count], 0
    mov dword [flag_eois], 0
    sti
    mov dword [APIC_ICR_LOW], ICR_SELF | SELF_VECTOR
    mov ebx, 1
    mov esi, self_count
    call wait_count
    cli
    cmp eax, 1
    CHECK e, "kernel-address-self-ipi", "count=", eax
    mov eax, [seen_flag]
    cmp eax, 1
    CHECK e, "kernel-address-flag-set", "byte=", eax
    mov esi, KERNEL_ADDRESS - 16
    mov ecx, 16
    call canary_check
    mov ebx, eax
    mov esi, KERNEL_ADDRESS + 1
    mov ecx, 15
    call canary_check
    add eax, ebx
    movzx ebx, byte [KERNEL_ADDRESS]        ; the flag byte: bit 0 at most
    and ebx, 0xFE
    or eax, ebx
    CHECK e, "kernel-address-canary", "changed=", eax
    call isr_bits
    CHECK e, "kernel-address-isr-empty", "isr=", eax
    mov eax, [flag_eois]
    add [pv_eois], eax

    ; ---- self-IPIs with the flag in the canary page ---------------------------------------
    mov edi, CANARY
    mov ecx, 4096
    mov al, CANARY_BYTE
    rep stosb
    mov byte [FLAG], FLAG_BYTE
    mov byte [FLAG2], FLAG2_BYTE
    mov dword [flag_ptr], FLAG
    mov eax, FLAG | 1
    xor edx, edx
    call try_accepted
    mov dword [self_count], 0
    mov dword [flag_seen_count], 0
    mov dword [flag_eois], 0
    mov edi, 20
.self_ipi:
    mov ebx, [self_count]                   ; before the IPI, which may arrive at once
    inc ebx
    sti
    mov dword [APIC_ICR_LOW], ICR_SELF | SELF_VECTOR
    mov esi, self_count
    call wait_count
    cmp eax, ebx                            ; one lost: the rest would only wait too
    jb .self_ipis_done
    dec edi
    jnz .self_ipi
.self_ipis_done:
    cli
    mov eax, [self_count]
    cmp eax, 20
    CHECK e, "self-ipis-arrive", "count=", eax
    mov eax, [flag_seen_count]
    cmp eax, 20
    CHECK e, "self-ipis-flag-set", "count=", eax
    call isr_bits
    CHECK e, "self-ipis-isr-empty", "isr=", eax
    mov eax, [flag_eois]
    add [pv_eois], eax

    ; ---- WRMSR inside the handler, the flag set ------------------------------------------
    mov dword [handler_mode], 1             ; move the flag to FLAG2, EOI through it
    mov dword [flag_eois], 0
    mov ebx, 1
    sti
    mov dword [APIC_ICR_LOW], ICR_SELF | MSR_VECTOR
    mov esi, handler_count
    call wait_count
    cli
    cmp eax, 1
    CHECK e, "move-in-handler-arrives", "count=", eax
    mov eax, [handler_old_before]
    cmp eax, 1
    CHECK e, "move-in-handler-flag-was-set", "bit0=", eax
    mov eax, [handler_result]
    cmp eax, 0
    CHECK e, "move-in-handler-accepted", "gp/readback=", eax
    mov eax, [handler_old_after]
    cmp eax, FLAG_BYTE
    CHECK e, "move-in-handler-old-flag-cleared", "byte=", eax
    mov eax, [handler_new_after]
    cmp eax, FLAG2_BYTE | 1
    CHECK e, "move-in-handler-new-flag-set", "byte=", eax
    mov eax, [flag_eois]
    cmp eax, 1
    CHECK e, "move-in-handler-eoi-through-new-flag", "flag-eois=", eax
    call isr_bits
    CHECK e, "move-in-handler-isr-empty", "isr=", eax
    mov eax, [flag_eois]
    add [pv_eois], eax

    mov dword [handler_mode], 2             ; EOI through the flag, then WRMSR 0 at once
    mov ebx, 2
    sti
    mov dword [APIC_ICR_LOW], ICR_SELF | MSR_VECTOR
    mov esi, handler_count
    call wait_count
    cli
    cmp eax, 2
    CHECK e, "off-in-handler-arrives", "count=", eax
    mov eax, [handler_old_before]
    add eax, [handler_cleared]
    cmp eax, 2
    CHECK e, "off-in-handler-flag-was-set", "set+cleared=", eax
    inc dword [pv_eois]                     ; that EOI, counted at the WRMSR's exit
    mov eax, [handler_result]
    cmp eax, 0
    CHECK e, "off-in-handler-accepted", "gp/readback=", eax
    mov eax, [handler_isr]
    cmp eax, 0
    CHECK e, "off-in-handler-eoi-made-by-then", "isr=", eax
    movzx eax, byte [FLAG2]
    cmp eax, FLAG2_BYTE
    CHECK e, "off-in-handler-flag-clear", "byte=", eax
    call isr_bits
    CHECK e, "off-in-handler-isr-empty", "isr=", eax
    mov dword [flag_ptr], FLAG
    mov eax, FLAG | 1
    xor edx, edx
    call try_accepted

    ; ---- the timer, the flag moved half-way -----------------------------------------------
    mov dword [flag_eois], 0
    call timer_on
    mov ebx, 20
    mov esi, ticks
    call wait_count
    mov dword [flag_ptr], FLAG2             ; the handler follows the MSR at once: IF = 1
    mov eax, FLAG2 | 1
    xor edx, edx
    call try_accepted
    mov ebp, eax
    mov ebx, 40
    mov esi, ticks
    call wait_count
    call timer_off
    cmp ebp, 0
    CHECK e, "moved-while-interrupted-accepted", "gp/readback=", ebp
    mov eax, [ticks]
    cmp eax, 40
    CHECK ae, "timer-keeps-arriving", "ticks=", eax
    mov eax, [flag_eois]
    add [pv_eois], eax
    cmp eax, 20
    CHECK ae, "timer-eois-through-flag", "flag-eois=", eax
    call isr_bits
    CHECK e, "timer-isr-empty", "isr=", eax
    movzx eax, byte [FLAG]
    cmp eax, FLAG_BYTE
    CHECK e, "moved-flag-left-clean", "byte=", eax
    call canary_page
    CHECK e, "canary-intact", "changed=", eax

    ; ---- off: the page is the guest's alone ----------------------------------------------
    xor eax, eax
    xor edx, edx
    call try_accepted
    mov esi, CANARY                         ; a copy of the page as it is now
    mov edi, page_copy
    mov ecx, 1024
    rep movsd
    mov dword [flag_eois], 0
    call timer_on
    mov ebx, 10
    mov esi, ticks
    call wait_count
    call timer_off
    cmp eax, 10
    CHECK ae, "off-timer-arrives", "ticks=", eax
    mov esi, CANARY
    mov edi, page_copy
    mov ecx, 1024
    repe cmpsd
    setne al                                ; a difference stopped it
    movzx eax, al
    or eax, [flag_eois]
    CHECK e, "off-flag-untouched", "flag-eois|left=", eax

    ; ---- scribbling over the flag while interrupts come -----------------------------------
    mov byte [FLAG], FLAG_BYTE
    mov byte [FLAG2], FLAG2_BYTE
    mov dword [flag_ptr], FLAG
    mov eax, FLAG | 1
    xor edx, edx
    call try_accepted
    call timer_on
    mov ebx, 0x9E3779B9                     ; xorshift32 state
    mov ecx, SCRIBBLES
.scribble:
    mov eax, ebx
    shl eax, 13
    xor ebx, eax
    mov eax, ebx
    shr eax, 17
    xor ebx, eax
    mov eax, ebx
    shl eax, 5
    xor ebx, eax
    mov edx, [flag_ptr]
    mov [edx], bl
    test ecx, 0x3FF
    jnz .next
    ; Now and then an exit (an MMIO read of ISR 0x40-0x5F), where the hypervisor reads the
    ; flag. A vector in service now is stuck (no handler runs): the guest's own doing, as
    ; it set or cleared the flag at random. The EOI register retires it.
    mov eax, [APIC_ISR + 0x20]
    test eax, eax
    jz .not_stuck
    mov dword [APIC_EOI], 0
    inc dword [unstuck]
.not_stuck:
    test ecx, 0xFFFF
    jnz .next
    ; And now and then the flag moves to the other address, scribbled or not.
    mov eax, FLAG2
    cmp dword [flag_ptr], FLAG
    je .move
    mov eax, FLAG
.move:
    mov [flag_ptr], eax
    or eax, 1
    xor edx, edx
    call try_accepted
    setnz al
    movzx eax, al
    add [move_failures], eax
    inc dword [moves]
.next:
    cmp dword [ticks], SCRIBBLE_TICKS
    jae .scribbled
    dec ecx
    jnz .scribble
.scribbled:
    call timer_off
    PRINT "INFO pveoi scribble ticks="
    call put_dec
    PRINT " unstuck="
    mov eax, [unstuck]
    call put_dec
    PRINT " moves="
    mov eax, [moves]
    call put_dec
    PRINT 10
    mov eax, [ticks]
    cmp eax, SCRIBBLE_TICKS / 4
    CHECK ae, "scribble-interrupts-keep-coming", "ticks=", eax
    mov eax, [move_failures]
    cmp eax, 0
    CHECK e, "scribble-moves-accepted", "failures=", eax
    ; The flags back to clear (a clear that was the hypervisor's is an EOI: harmless now),
    ; the MSR back at FLAG, then the EOI register until nothing is in service.
    mov byte [FLAG], FLAG_BYTE
    mov byte [FLAG2], FLAG2_BYTE
    mov dword [flag_ptr], FLAG
    mov eax, FLAG | 1
    xor edx, edx
    call try_accepted
    mov ecx, 300
.recover:
    call isr_bits
    test eax, eax
    jz .recovered
    mov dword [APIC_EOI], 0
    dec ecx
    jnz .recover
.recovered:
    call isr_bits
    CHECK e, "scribble-isr-recovered", "isr=", eax
    mov dword [flag_eois], 0
    call timer_on
    mov ebx, 20
    mov esi, ticks
    call wait_count
    call timer_off
    cmp eax, 20
    CHECK ae, "scribble-then-timer-arrives", "ticks=", eax
    mov eax, [flag_eois]
    add [pv_eois], eax
    cmp eax, 10
    CHECK ae, "scribble-then-flag-eois", "flag-eois=", eax
    call isr_bits
    CHECK e, "scribble-then-isr-empty", "isr=", eax
    call canary_page
    CHECK e, "scribble-canary-intact", "changed=", eax

    xor eax, eax
    xor edx, edx
    call try_accepted
    CHECK e, "msr-off-at-end", "gp/readback=", eax
    PRINT "INFO pveoi flag-eois="
    mov eax, [pv_eois]
    call put_dec
    PRINT " refused="
    mov eax, [gp_total]
    call put_dec
    PRINT 10
    jmp finish

; WRMSR EDX:EAX to the paravirtual EOI MSR, expecting a #GP and RDMSR to read what it read
; before. Returns EAX = 0 (and ZF) when so; else the #GP count in bits 31:16, and 1 when
; RDMSR reads something else.
try_hostile:
    push ecx
    push edx
    mov dword [gp_count], 0
    mov ecx, PV_EOI_MSR
    wrmsr
    rdmsr
    xor eax, [accepted_lo]
    xor edx, [accepted_hi]
    or eax, edx
    setnz al
    movzx eax, al
    mov edx, [gp_count]
    cmp edx, 1
    je .one
    shl edx, 16
    or eax, edx
    or eax, 0x8000
.one:
    test eax, eax
    pop edx
    pop ecx
    ret

; WRMSR EDX:EAX, expecting no #GP and RDMSR to read it back; remembered as the last accepted
; value. Returns EAX = 0 (and ZF) when so.
try_accepted:
    push ecx
    push edx
    push ebx
    mov [accepted_lo], eax
    mov [accepted_hi], edx
    mov dword [gp_count], 0
    mov ecx, PV_EOI_MSR
    wrmsr
    rdmsr
    xor eax, [accepted_lo]
    xor edx, [accepted_hi]
    or eax, edx
    setnz al
    movzx eax, al
    mov ebx, [gp_count]
    shl ebx, 16
    or eax, ebx
    test eax, eax
    pop ebx
    pop edx
    pop ecx
    ret

; Waits, interrupts on, until [ESI] >= EBX or WAIT_CYCLES of TSC have passed (no exit: RDTSC
; is not intercepted). Returns EAX = [ESI]; interrupts stay as they were on entry.
wait_count:
    push ecx
    push edx
    push edi
    pushfd
    sti
    rdtsc
    mov edi, eax
.loop:
    cmp [esi], ebx
    jae .done
    rdtsc
    sub eax, edi
    cmp eax, WAIT_CYCLES
    jb .loop
.done:
    popfd
    mov eax, [esi]
    pop edi
    pop edx
    pop ecx
    ret

; The LAPIC timer, periodic, divide by 1, 200,000 ticks of its 1 GHz clock at most (the
; model clamps to 200 us). Counts from 0 again.
timer_on:
    mov dword [ticks], 0
    mov dword [APIC_TIMER_DIV], 0xB
    mov dword [APIC_LVT_TIMER], (1 << 17) | TIMER_VECTOR
    mov dword [APIC_TIMER_INIT], 200000
    sti
    ret

; Stops and masks the timer, interrupts off. Returns EAX = ticks.
timer_off:
    cli
    mov dword [APIC_TIMER_INIT], 0
    mov dword [APIC_LVT_TIMER], APIC_LVT_MASK | TIMER_VECTOR
    mov eax, [ticks]
    ret

; EAX = the OR of the eight ISR registers (0: nothing in service); ZF accordingly.
isr_bits:
    push ecx
    xor eax, eax
    xor ecx, ecx
.next:
    or eax, [APIC_ISR + ecx * 8]            ; ISR n at 0x100 + 0x10 * n: ECX = 2n
    add ecx, 2
    cmp ecx, 16
    jb .next
    test eax, eax
    pop ecx
    ret

; ESI = start, ECX = length: EAX = how many bytes differ from CANARY_BYTE.
canary_check:
    push ecx
    push esi
    xor eax, eax
.byte:
    cmp byte [esi], CANARY_BYTE
    je .same
    inc eax
.same:
    inc esi
    dec ecx
    jnz .byte
    pop esi
    pop ecx
    ret

; The canary page: every byte CANARY_BYTE but the two flags, whose bits 7:1 are FLAG_BYTE's
; and FLAG2_BYTE's. EAX = the number of bytes that differ; ZF accordingly.
canary_page:
    push ecx
    push esi
    push ebx
    mov esi, CANARY
    mov ecx, FLAG - CANARY
    call canary_check
    mov ebx, eax
    mov esi, FLAG + 1
    mov ecx, FLAG2 - FLAG - 1
    call canary_check
    add ebx, eax
    mov esi, FLAG2 + 1
    mov ecx, CANARY + 4096 - FLAG2 - 1
    call canary_check
    add ebx, eax
    mov al, [FLAG]
    and al, 0xFE
    cmp al, FLAG_BYTE
    je .flag_ok
    inc ebx
.flag_ok:
    mov al, [FLAG2]
    and al, 0xFE
    cmp al, FLAG2_BYTE
    je .flag2_ok
    inc ebx
.flag2_ok:
    mov eax, ebx
    test eax, eax
    pop ebx
    pop esi
    pop ecx
    ret

; The EOI as Linux's kvm_guest_apic_eoi_write makes it: clear bit 0 of the flag if it was
; set, else write the EOI register.
eoi:
    push eax
    mov eax, [flag_ptr]
    btr dword [eax], 0
    jc .through_flag
    mov dword [APIC_EOI], 0
    pop eax
    ret
.through_flag:
    inc dword [flag_eois]
    pop eax
    ret

timer_handler:
    inc dword [ticks]
    call eoi
    iretd

self_handler:
    push eax
    inc dword [self_count]
    mov eax, [flag_ptr]
    movzx eax, byte [eax]
    and eax, 1
    mov [seen_flag], eax
    add [flag_seen_count], eax
    pop eax
    call eoi
    iretd

; Vector MSR_VECTOR: a WRMSR of the MSR while the vector is in service and the flag set.
; Mode 1: the flag moves to FLAG2 (the hypervisor must clear the old one and set the new
; one), then the EOI goes through the new flag. Mode 2: the EOI through the flag, then WRMSR
; 0 at once: the vector must be out of service before the handler returns.
msr_handler:
    pushad
    inc dword [handler_count]
    mov ebx, [flag_ptr]
    movzx eax, byte [ebx]
    and eax, 1
    mov [handler_old_before], eax
    cmp dword [handler_mode], 1
    jne .off
    mov dword [flag_ptr], FLAG2
    mov eax, FLAG2 | 1
    xor edx, edx
    call try_accepted
    mov [handler_result], eax
    movzx eax, byte [FLAG]
    mov [handler_old_after], eax
    movzx eax, byte [FLAG2]
    mov [handler_new_after], eax
    call eoi
    popad
    iretd
.off:
    btr dword [ebx], 0
    setc al
    movzx eax, al
    mov [handler_cleared], eax
    xor eax, eax
    xor edx, edx
    call try_accepted
    mov [handler_result], eax
    call isr_bits
    mov [handler_isr], eax
    popad
    iretd

; #GP from RDMSR/WRMSR (2 bytes): counted, then resumed after the instruction.
gp_handler:
    inc dword [gp_count]
    inc dword [gp_total]
    add esp, 4                              ; error code
    add dword [esp], 2
    iretd

    EMIT_LIB
    EMIT_IDT_LIB

[section .data]
    align 4
accepted_lo:    dd 0
accepted_hi:    dd 0
gp_count:       dd 0
gp_total:       dd 0
flag_ptr:       dd FLAG
ticks:          dd 0
self_count:     dd 0
seen_flag:      dd 0
flag_seen_count: dd 0
flag_eois:      dd 0
pv_eois:        dd 0
unstuck:        dd 0
moves:          dd 0
move_failures:  dd 0
handler_mode:   dd 0
handler_count:  dd 0
handler_old_before: dd 0
handler_old_after: dd 0
handler_new_after: dd 0
handler_cleared: dd 0
handler_result: dd 0
handler_isr:    dd 0
    align 16
page_copy:      times 1024 dd 0
