; x2apic.asm -- the x2APIC through MSRs between two vCPUs (profile "cpus=2 apic=on";
; SDM 3A §11.12). Both vCPUs enter protected mode, take their own stacks (CPUID 1
; EBX[31:24] = APIC ID = vCPU index), share one IDT, switch their APIC to x2APIC mode
; (IA32_APIC_BASE.EXTD) and enable it through the SVR MSR. vCPU 1 reports ready and halts
; with interrupts enabled. vCPU 0 checks:
;   - CPUID offers x2APIC (1:ECX[21]); IA32_APIC_BASE reads EN, EXTD and BSP; the x2APIC ID
;     (0x802) is 0 and the LDR (0x80D) is derived from it; leaf 0xB (when the host's
;     highest leaf reaches it) reports two cores and x2APIC ID 0;
;   - the xAPIC page no longer answers (reads all ones);
;   - a SELF IPI (0x83F) arrives here; a fixed IPI through the ICR (0x830) to x2APIC ID 1
;     (physical, destination in EDX), then one to logical cluster 0 member bit 1, arrive at
;     vCPU 1, whose handler reads its own x2APIC ID;
;   - #GP for an EOI write of a non-zero value, a read of DFR (0x80E, absent in x2APIC
;     mode) and a switch back to xAPIC mode (SDM Figure 11-27).
; Prints PASS/FAIL lines, then DONE and stops with the number of failures.

%include "lib.inc"
%include "pmode.inc"
%include "apic.inc"

SELF_VECTOR equ 0x50
IPI_VECTOR  equ 0x51
WAIT_LOOPS  equ 50000000
APIC_BASE_MSR equ 0x1B

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
    mov eax, gp_handler
    mov ecx, 13
    call set_gate
    mov eax, self_handler
    mov ecx, SELF_VECTOR
    call set_gate
    mov eax, ipi_handler
    mov ecx, IPI_VECTOR
    call set_gate
    mov ecx, APIC_BASE_MSR      ; to x2APIC mode: EXTD with EN
    rdmsr
    or eax, 1 << 10
    wrmsr
    mov ecx, 0x80F              ; SVR: software enable, spurious vector 0xFF
    mov eax, 0x1FF
    xor edx, edx
    wrmsr
    test esi, esi
    jnz second_vcpu

    call detect_vendor
    PRINT "INFO x2apic starting", 10
    mov eax, 1
    cpuid
    bt ecx, 21
    CHECK c, "cpuid-offers-x2apic"
    mov ecx, APIC_BASE_MSR
    rdmsr
    cmp eax, 0xFEE00D00
    CHECK e, "apic-base-enabled-extd-bsp", "value=", eax
    mov ecx, 0x802
    rdmsr
    cmp eax, 0
    CHECK e, "x2apic-id", "id=", eax
    mov ecx, 0x80D
    rdmsr
    cmp eax, 1
    CHECK e, "x2apic-ldr-derived", "ldr=", eax
    mov eax, [APIC_ID]
    cmp eax, 0xFFFFFFFF
    CHECK e, "xapic-page-ignored", "value=", eax

    xor eax, eax
    cpuid
    cmp eax, 0xB
    jb .no_topology_leaf
    mov eax, 0xB
    mov ecx, 1
    cpuid
    cmp ebx, 2
    CHECK e, "leaf-0b-two-cores", "cores=", ebx
    cmp edx, 0
    CHECK e, "leaf-0b-x2apic-id", "id=", edx
    jmp .topology_done
.no_topology_leaf:
    PRINT "INFO leaf 0xB beyond the host's highest leaf: not checked", 10
.topology_done:

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

    sti
    mov ecx, 0x83F              ; SELF IPI
    mov eax, SELF_VECTOR
    xor edx, edx
    wrmsr
    mov ecx, WAIT_LOOPS
.wait_self:
    cmp dword [self_count], 1
    jae .self_done
    pause
    dec ecx
    jnz .wait_self
.self_done:
    mov eax, [self_count]
    cmp eax, 1
    CHECK e, "self-ipi", "count=", eax

    mov ecx, 0x830              ; ICR: fixed, physical, x2APIC ID 1 in EDX
    mov eax, IPI_VECTOR
    mov edx, 1
    wrmsr
    mov ebx, 1
    call wait_vcpu1_ipis
    cmp eax, 1
    CHECK e, "icr-physical-ipi-to-vcpu1", "count=", eax

    mov ecx, 0x830              ; ICR: fixed, logical, cluster 0, member bit 1
    mov eax, 1 << 11 | IPI_VECTOR
    mov edx, 2
    wrmsr
    mov ebx, 2
    call wait_vcpu1_ipis
    cmp eax, 2
    CHECK e, "icr-logical-ipi-to-vcpu1", "count=", eax
    mov eax, [ipi_count]
    cmp eax, 0
    CHECK e, "no-ipi-here", "count=", eax

    mov ecx, 0x80B              ; EOI with a non-zero value
    mov eax, 1
    xor edx, edx
    mov dword [gp_count], 0
    wrmsr
    mov eax, [gp_count]
    cmp eax, 1
    CHECK e, "eoi-nonzero-gp", "faults=", eax
    mov ecx, 0x80E              ; DFR: absent in x2APIC mode
    rdmsr
    mov eax, [gp_count]
    cmp eax, 2
    CHECK e, "dfr-absent-gp", "faults=", eax
    mov ecx, APIC_BASE_MSR      ; x2APIC -> xAPIC is illegal
    mov eax, 0xFEE00900
    xor edx, edx
    wrmsr
    mov eax, [gp_count]
    cmp eax, 3
    CHECK e, "x2apic-to-xapic-gp", "faults=", eax
    mov ecx, APIC_BASE_MSR
    rdmsr
    cmp eax, 0xFEE00D00
    CHECK e, "still-x2apic", "value=", eax
    cli
    jmp finish

; EBX = the count to wait for; returns vCPU 1's IPI count in EAX.
wait_vcpu1_ipis:
    mov ecx, WAIT_LOOPS
.wait:
    cmp [ipi_count + 4], ebx
    jae .done
    pause
    dec ecx
    jnz .wait
.done:
    mov eax, [ipi_count + 4]
    ret

second_vcpu:
    mov byte [vcpu1_ready], 1
.idle:
    sti
    hlt
    cmp dword [ipi_count + 4], 2
    jb .idle
.park:
    cli
    hlt
    jmp .park

x2apic_eoi:
    mov ecx, 0x80B
    xor eax, eax
    xor edx, edx
    wrmsr
    ret

self_handler:
    pushad
    inc dword [self_count]
    call x2apic_eoi
    popad
    iretd

ipi_handler:
    pushad
    mov ecx, 0x802
    rdmsr
    and eax, 1
    inc dword [ipi_count + eax * 4]
    call x2apic_eoi
    popad
    iretd

; #GP from RDMSR/WRMSR (2 bytes): counted, then resumed after the instruction.
gp_handler:
    inc dword [gp_count]
    add esp, 4                  ; error code
    add dword [esp], 2
    iretd

    EMIT_LIB
    EMIT_IDT_LIB

[section .data]
vcpu1_ready:    db 0
    align 4
ipi_count:      dd 0, 0
self_count:     dd 0
gp_count:       dd 0
