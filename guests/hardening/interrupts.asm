; interrupts.asm -- IPIs and NMIs between two vCPUs through their local APICs (profile
; "cpus=2 apic=on"). Both vCPUs start here in real mode, enter protected mode, take their
; own stacks (CPUID 1 EBX[31:24] = APIC ID = vCPU index), share one IDT and enable their
; APICs. vCPU 1 reports ready and halts with interrupts enabled. vCPU 0 then:
;   1. sends a fixed IPI, vector 0x50, with the "all including self" shorthand (11b):
;      both vCPUs must take it (ipi-all-including-self-self, ipi-all-including-self-other);
;   2. sends itself an NMI (delivery mode 100b, shorthand self): the NMI handler runs
;      (self-nmi); on its first run the handler sends a second self-NMI and makes exits
;      (CPUID) before its IRET: the second NMI must arrive, but only after the IRET
;      (second-nmi-after-iret, nmi-not-nested);
;   3. sends itself an NMI by physical destination = its own APIC ID (self-nmi-by-own-id);
;   4. sends INIT and start-up IPIs to all excluding self: vCPU 1 has stopped (CLI; HLT),
;      so they change nothing and no event arrives here (init-and-startup-ignored).
; Prints PASS/FAIL lines, then DONE and stops with the number of failures.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"

IPI_VECTOR equ 0x50
WAIT_LOOPS equ 50000000

    org 0x1000
    REAL_MODE_START
    ENTER_PROTECTED_MODE
main:
    mov eax, 1
    cpuid
    shr ebx, 24
    mov esi, ebx                ; vCPU index
    shl ebx, 14
    mov esp, STACK_TOP
    sub esp, ebx                ; 16 KiB of stack each
    call load_idt
    mov eax, ipi_handler
    mov ecx, IPI_VECTOR
    call set_gate
    mov eax, nmi_handler
    mov ecx, 2
    call set_gate
    mov dword [APIC_SVR], 0x1FF ; software enable, spurious vector 0xFF
    test esi, esi
    jnz second_vcpu

    call detect_vendor
    PRINT "INFO interrupts starting", 10
    mov ecx, WAIT_LOOPS
.wait_ready:
    cmp byte [vcpu1_ready], 1
    je .ready
    pause
    dec ecx
    jnz .wait_ready
.ready:
    cmp byte [vcpu1_ready], 1
    CHECK e, "second-vcpu-ready"

    ; 1. A fixed IPI to all including self.
    mov dword [APIC_ICR_HIGH], 0
    mov dword [APIC_ICR_LOW], ICR_ALL_INCL | IPI_VECTOR
    sti
    mov ecx, WAIT_LOOPS
.wait_ipi:
    cmp dword [ipi_count], 0
    je .again
    cmp dword [ipi_count + 4], 0
    jne .ipi_done
.again:
    pause
    dec ecx
    jnz .wait_ipi
.ipi_done:
    mov eax, [ipi_count]
    cmp eax, 1
    CHECK e, "ipi-all-including-self-self", "count=", eax
    mov eax, [ipi_count + 4]
    cmp eax, 1
    CHECK e, "ipi-all-including-self-other", "count=", eax

    ; 2. A self-NMI by shorthand; its handler sends a second one.
    mov dword [APIC_ICR_LOW], ICR_SELF | ICR_NMI
    mov ecx, WAIT_LOOPS
.wait_nmi:
    cmp dword [nmi_count], 2
    jae .nmi_done
    pause
    dec ecx
    jnz .wait_nmi
.nmi_done:
    cmp dword [nmi_first_done], 1
    CHECK e, "self-nmi"
    mov eax, [nmi_count]
    cmp eax, 2
    CHECK e, "second-nmi-after-iret", "count=", eax
    mov eax, [nmi_nested]
    cmp eax, 0
    CHECK e, "nmi-not-nested", "nested=", eax

    ; 3. A self-NMI by physical destination = own APIC ID (0).
    mov dword [APIC_ICR_HIGH], 0
    mov dword [APIC_ICR_LOW], ICR_NMI
    mov ecx, WAIT_LOOPS
.wait_nmi3:
    cmp dword [nmi_count], 3
    jae .nmi3_done
    pause
    dec ecx
    jnz .wait_nmi3
.nmi3_done:
    mov eax, [nmi_count]
    cmp eax, 3
    CHECK e, "self-nmi-by-own-id", "count=", eax

    ; 4. INIT and start-up IPIs to the others: the parked (stopped) vCPU 1 stays parked and
    ;    nothing reaches this one.
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_INIT
    mov dword [APIC_ICR_LOW], ICR_ALL_EXCL | ICR_STARTUP | 0x01
    mov ecx, 1000000
.quiet:
    pause
    dec ecx
    jnz .quiet
    mov eax, [nmi_count]
    add eax, [ipi_count]
    add eax, [ipi_count + 4]
    cmp eax, 5
    CHECK e, "init-and-startup-ignored", "events=", eax
    cli
    jmp finish

second_vcpu:
    mov byte [vcpu1_ready], 1
.idle:
    sti
    hlt
    cmp dword [ipi_count + 4], 0
    je .idle
.park:
    cli
    hlt
    jmp .park

ipi_handler:
    push eax
    mov eax, [APIC_ID]
    shr eax, 24
    inc dword [ipi_count + eax * 4]
    mov dword [APIC_EOI], 0
    pop eax
    iretd

nmi_handler:
    pushad
    cmp byte [in_nmi], 0
    je .not_nested
    inc dword [nmi_nested]
.not_nested:
    mov byte [in_nmi], 1
    inc dword [nmi_count]
    cmp dword [nmi_count], 1
    jne .out
    ; The second NMI, sent from inside the handler, must wait for this handler's IRET.
    mov dword [APIC_ICR_LOW], ICR_SELF | ICR_NMI
    mov esi, 200
.exits:
    xor eax, eax
    cpuid                       ; exits at which a wrong hypervisor would nest it
    dec esi
    jnz .exits
    cmp dword [nmi_count], 1
    jne .out
    mov dword [nmi_first_done], 1
.out:
    mov byte [in_nmi], 0
    popad
    iretd

    EMIT_LIB
    EMIT_IDT_LIB

[section .data]
vcpu1_ready:    db 0
in_nmi:         db 0
    align 4
ipi_count:      dd 0, 0
nmi_count:      dd 0
nmi_nested:     dd 0
nmi_first_done: dd 0
