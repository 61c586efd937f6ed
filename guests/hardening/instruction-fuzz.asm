; instruction-fuzz.asm -- executes seeded random instruction streams in every mode.
;
; Build: nasm -f bin -I guests/include/ [-DSEED=0x...] [-DITERATIONS=n] [-DKNOWN_BUGS=1]
;        [-DREALMODE_ERRCODE_BUG=1] [-DPAE_PDPTE_BUG=1] [-DUSER_MMIO_BUG=1] [-DQEMU_LTR_NULL=1]
;        [-DQEMU_CR3_RESERVED=1] [-DSTRING_IO=0] [-DHALT_TEMPLATE=1] [-DSTOP_HYPERCALL=1]
;        [-DMMIO_EXOTIC=1] [-DTRACE=1]
; The same SEED and flags give the same streams (docs/guest-fuzzing.md; the generator is in
; guests/include/instruction-fuzz.inc). Profile: `vm name=fuzz unmapped=ignore`.
;
; Three phases of ITERATIONS streams each:
;   real       real mode, CPL 0, templates only (segment 0, the stream at 0x7000)
;   protected  32-bit protected mode with paging (4 MiB pages); each stream one of: pm16 (CPL 0
;              templates in a 16-bit code segment), pm32 (CPL 0 templates), pm32-user
;              (CPL 3: templates and uniform random bytes)
;   long       64-bit long mode; each stream one of: lm64 (CPL 0 templates), lm64-user and
;              cm32-user (CPL 3 in 64-bit and in compatibility mode: templates and uniform)
; A stream runs with RFLAGS.TF set: the #DB handler counts its instructions and ends it after
; MAX_STEPS. Any other exception or interrupt ends it too (the INT3s after the stream are the
; normal way out); the handler counts the vector, restores what the stream may have changed
; (segments, stack; GDTR/IDTR/TR/LDTR, CR0/CR3/CR4/CR8, DR7, EFER/SYSENTER_CS when
; a template touched them) and starts the next stream. CPL 3 streams run on user pages
; (0x400000-0x5FFFFF) with the fuzzer on supervisor pages; CPL 0 streams use only templates.
;
; Output (hypercall 1, one line per exit):
;   FUZZ seed=0x<seed> iterations=<n> known_bugs=<0|1> mode=<real|protected|long>
;   FUZZ progress n=<streams so far> mode=<context>        every PROGRESS streams
;   FUZZ stats mode=<phase> streams=<n> budget=<n> vectors=<v>:<count>,...
;   FUZZ stream n=<i> ctx=<context> bytes=<hex>              before each stream, with TRACE=1
;   FUZZ done streams=<n>                                    then hypercall 3, exit code 0
;   FUZZ fatal vector=0x.. rip=0x.. (an exception in the fuzzer itself), exit code 1
; The hypervisor and the companion VM must survive whatever happens; the fuzz VM itself may
; end early (triple fault, a stop with a reason): that is not a failure of the hypervisor.

%include "pmode.inc"
%include "lmode.inc"
%include "exceptions.inc"
%include "instruction-fuzz.inc"

%ifndef SEED
  %define SEED 0x2545F491
%endif
%ifndef ITERATIONS
  %define ITERATIONS 400
%endif
%ifndef PROGRESS
  %define PROGRESS 100
%endif
%ifndef MAX_STEPS
  %define MAX_STEPS 48
%endif
%ifndef TRACE
  %define TRACE 0
%endif
%if (SEED) & 0xFFFFFFFF == 0
  %error "SEED must be a non-zero 32-bit value (xorshift32)"
%endif

; ---- memory (guest-physical, identity-mapped) ----------------------------------------------
LOW_CODE        equ 0x7000          ; real-mode and 16-bit stream buffer (below 64 KiB)
LOW_DATA        equ 0x8000          ; their data scratch (4 KiB)
RM_STREAM_SP    equ 0xD000
IDT32           equ 0x10000         ; 256 x 8
IDT64           equ 0x11000         ; 256 x 16
TSS32           equ 0x13000
TSS64           equ 0x13100
PG_PML4         equ 0x30000
PG_PDPT         equ 0x31000
PG_PD           equ 0x32000         ; four page directories: 0-4 GiB in 2 MiB pages
PG_PDPT_PAE     equ 0x36000
PG_PD32         equ 0x37000         ; 32-bit paging: 1024 x 4 MiB
USER_CODE       equ 0x400000        ; the user 2 MiB page: code, data, stack
USER_DATA       equ 0x500000
USER_STACK      equ 0x5FF000
STREAM0_STACK   equ 0x60000         ; CPL 0 streams' stack
EXC_STACK       equ 0x70000         ; TSS RSP0 / IST1

CODE16_SEL      equ 0x20
UCODE32_SEL     equ 0x28 | 3
UDATA_SEL       equ 0x30 | 3
UCODE64_SEL     equ 0x38 | 3
TSS32_SEL       equ 0x40
TSS64_SEL       equ 0x48

VEC_INT         equ 32              ; INT n with n >= 32
VEC_BUDGET      equ 33              ; the single-step budget ran out
NVEC            equ 34

RFLAGS_TF       equ 1 << 8
RFLAGS_AC       equ 1 << 18

; "FUZZ seed=0x... iterations=N known_bugs=K mode=NAME"
%macro FZSTR_SEED 1
    call FZ(line)
    FZSTR "seed=0x"
    mov eax, (SEED) & 0xFFFFFFFF
    call FZ(hex)
    FZSTR " iterations="
    mov eax, ITERATIONS
    call FZ(dec)
    FZSTR " known_bugs="
    mov eax, KNOWN_BUGS
    call FZ(dec)
    FZSTR " mode=", %1
    call FZ(flush)
%endmacro
%macro FZSTR_STATS 1
    mov esi, %%name
    call FZ(stats)
[section .data]
%%name: db %1, 0
__?SECT?__
%endmacro

; contexts (fz_ctx)
CTX_REAL        equ 0
CTX_PM16        equ 1
CTX_PM32        equ 2
CTX_PM32_USER   equ 3
CTX_LM64        equ 4
CTX_LM64_USER   equ 5
CTX_CM32_USER   equ 6

; FZ_CONTEXT enc, cpl3, real, scratch, ctx
%macro FZ_CONTEXT 5
    mov byte [fz_enc], %1
    mov byte [fz_cpl3], %2
    mov byte [fz_real], %3
    mov dword [fz_scratch], %4
    mov byte [fz_ctx], %5
%endmacro

; Restore EFER and SYSENTER_CS; a refused WRMSR (#GP) resumes at the next one.
%macro FZ_RESTORE_MSRS 0
    mov dword [fz_recover], %%a
    mov ecx, MSR_EFER
    mov eax, [fz_efer]
    mov edx, [fz_efer + 4]
    wrmsr
%%a:
    mov dword [fz_recover], %%b
    mov ecx, 0x174                  ; IA32_SYSENTER_CS: 0 makes SYSENTER #GP at CPL 3
    xor eax, eax
    xor edx, edx
    wrmsr
%%b:
    mov dword [fz_recover], 0
    ; (not IA32_DEBUGCTL: the policy refuses it, so no stream can set BTF; and a #GP
    ; injected in real mode fails the VMX entry today)
%endmacro

; Every PROGRESS streams a progress line; counts the stream.
%macro FZ_NEXT_STREAM 0
    inc dword [fz_total]
    inc dword [fz_phase_n]
    mov eax, [fz_total]
    xor edx, edx
    mov ecx, PROGRESS
    div ecx
    test edx, edx
    jnz %%quiet
    call FZ(line)
    FZSTR "progress n="
    mov eax, [fz_total]
    call FZ(dec)
    FZSTR " mode="
    call FZ(ctx_name)
    call FZ(flush)
%%quiet:
%endmacro

; ============================================================================== real mode
    org 0x1000
    REAL_MODE_START
    jmp rm_main

    FUZZ_GEN
    FUZZ_COMMON

rm_stubs:
%assign v 0
%rep 32
rm_stub_ %+ v:
    push word v
    jmp rm_common
%assign v v + 1
%endrep
rm_stub_int:
    push word VEC_INT
    jmp rm_common

; [bp+2] vector, [bp+4] ip, [bp+6] cs, [bp+8] flags
rm_common:
    push bp
    mov bp, sp
    push ds
    push eax
    xor ax, ax
    mov ds, ax
    cmp byte [fz_in], 0
    je .out
    cmp word [bp + 2], 1
    jne .end
    inc dword [fz_steps]
    cmp dword [fz_steps], MAX_STEPS
    jae .budget
    pop eax
    pop ds
    pop bp
    add sp, 2
    iret
.budget:
    mov word [bp + 2], VEC_BUDGET
.end:
    movzx eax, word [bp + 2]
    inc dword [fz_vec + eax * 4]
    cmp eax, VEC_BUDGET
    je .stop
    push ecx                        ; go on at the next item: linear CS * 16 + IP
    movzx ecx, word [bp + 6]
    shl ecx, 4
    movzx eax, word [bp + 4]
    add eax, ecx
    call fz16_resume
    test eax, eax
    jz .nores
    sub eax, ecx
    cmp eax, 0xFFFF
    ja .nores
    mov [bp + 4], ax
    pop ecx
    pop eax
    pop ds
    pop bp
    add sp, 2
    iret
.nores:
    pop ecx
.stop:
    mov byte [fz_in], 0
    jmp rm_done
.out:
    mov eax, [fz_recover]
    test eax, eax
    jz .fatal
    mov [bp + 4], ax
    mov dword [fz_recover], 0
    pop eax
    pop ds
    pop bp
    add sp, 2
    iret
.fatal:
    movzx eax, word [bp + 2]
    movzx ebx, word [bp + 4]
    jmp fz16_fatal

rm_main:
    xor eax, eax
    cpuid
    cmp ebx, 'Genu'
    sete byte [fz_intel]
    mov dword [fz_state], (SEED) & 0xFFFFFFFF
    ; the IVT: vectors 0-31 to their stubs, the rest to rm_stub_int
    xor ecx, ecx
.ivt:
    mov ax, rm_stub_int
    cmp ecx, 32
    jae .set
    mov ax, [rm_stub_table + ecx * 2]
.set:
    mov [ecx * 4], ax
    mov word [ecx * 4 + 2], 0
    inc ecx
    cmp ecx, 256
    jb .ivt
    ; the known state of this phase
    mov eax, cr0
    mov [fz_cr0], eax
    mov eax, cr3
    mov [fz_cr3], eax
    mov eax, cr4
    mov [fz_cr4], eax
    sgdt [rm_gdtr]
    mov word [rm_idtr], 0x3FF
    mov dword [rm_idtr + 2], 0
    movzx eax, word [rm_gdtr]
    mov [fz_tbl_limit], eax
    mov eax, [rm_gdtr + 2]
    mov [fz_tbl_base], eax
    mov dword [fz_tbl_limit + 4], 0x3FF
    mov dword [fz_tbl_base + 4], 0
    mov ecx, MSR_EFER
    rdmsr
    mov [fz_efer], eax
    mov [fz_efer + 4], edx
    FZ_CONTEXT 16, 0, 1, LOW_DATA, CTX_REAL
    FZSTR_SEED "real"

rm_loop:
    cmp dword [fz_phase_n], ITERATIONS
    jae rm_finished
    FZ_NEXT_STREAM
    mov edi, LOW_CODE
    call fz16_gen
    call fz16_regs
%if TRACE
    call fz16_trace
%endif
    mov byte [fz_in], 1
    mov dword [fz_steps], 0
    mov dword [fz_resumes], 0
    mov sp, RM_STREAM_SP
    push word RFLAGS_TF | 2
    push word 0
    push word LOW_CODE
    mov ecx, [fz_regs + 1 * 4]
    mov edx, [fz_regs + 2 * 4]
    mov ebx, [fz_regs + 3 * 4]
    mov ebp, [fz_regs + 5 * 4]
    mov esi, [fz_regs + 6 * 4]
    mov edi, [fz_regs + 7 * 4]
    mov eax, [fz_regs + 0 * 4]
    iret

rm_done:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, STACK16
    test byte [fz_dirty], DIRTY_DESC
    jz .cr
    lidt [rm_idtr]
    o32 lgdt [rm_gdtr]
.cr:
    test byte [fz_dirty], DIRTY_CR
    jz .dr
    mov eax, [fz_cr0]
    mov cr0, eax
    mov eax, [fz_cr4]
    mov cr4, eax
    mov eax, [fz_cr3]
    mov cr3, eax
.dr:
    test byte [fz_dirty], DIRTY_DR
    jz .msr
    mov eax, 0x400
    mov dr7, eax
.msr:
    test byte [fz_dirty], DIRTY_MSR
    jz rm_loop
    FZ_RESTORE_MSRS
    jmp rm_loop

rm_finished:
    FZSTR_STATS "real"
    mov dword [fz_phase_n], 0
    call clear_vec16
    jmp rm_to_pm

clear_vec16:
    xor ecx, ecx
.c:
    mov dword [fz_vec + ecx * 4], 0
    inc ecx
    cmp ecx, NVEC
    jb .c
    ret

[section .data]
    align 2
rm_stub_table:
%assign v 0
%rep 32
    dw rm_stub_ %+ v
%assign v v + 1
%endrep
    align 4
rm_gdtr: dw 0
         dd 0
    align 4
rm_idtr: dw 0
         dd 0
__?SECT?__

rm_to_pm:
; ======================================================================= protected mode
    ENTER_PROTECTED_MODE
    jmp pm_main

    FUZZ_GEN
    FUZZ_COMMON

%macro PM_STUBS 0
  %assign v 0
  %rep 32
pm_stub_ %+ v:
    %if !EXC_HAS_ERROR(v)
    push dword 0
    %endif
    push dword v
    jmp pm_common
  %assign v v + 1
  %endrep
pm_stub_int:
    push dword 0
    push dword VEC_INT
    jmp pm_common
%endmacro
    PM_STUBS

; [esp] ds, [esp+4] eax, [esp+8] vector, [esp+12] error, [esp+16] eip, [esp+20] cs
pm_common:
    push eax
    push ds
    mov ax, DATA_SEL
    mov ds, ax
    cmp byte [fz_in], 0
    je .out
    cmp dword [esp + 8], 1
    jne .end
    inc dword [fz_steps]
    cmp dword [fz_steps], MAX_STEPS
    jae .budget
    pop ds
    pop eax
    add esp, 8
    iretd
.budget:
    mov dword [esp + 8], VEC_BUDGET
.end:
    mov eax, [esp + 8]
    inc dword [fz_vec + eax * 4]
    cmp eax, VEC_BUDGET
    je .stop
    cmp eax, 8                      ; #DF: no state to go on from
    je .stop
    mov eax, [esp + 16]             ; every code segment has base 0: EIP is linear
    call fz32_resume
    test eax, eax
    jz .stop
    mov [esp + 16], eax
    pop ds
    pop eax
    add esp, 8
    iretd
.stop:
    mov byte [fz_in], 0
    jmp pm_done
.out:
    mov eax, [fz_recover]
    test eax, eax
    jz .fatal
    mov [esp + 16], eax
    mov dword [fz_recover], 0
    pop ds
    pop eax
    add esp, 8
    iretd
.fatal:
    mov eax, [esp + 8]
    mov ebx, [esp + 16]
    jmp fz32_fatal

pm_main:
    lgdt [fz_gdt_desc]
    jmp CODE32_SEL:.cs
.cs:
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    ; the IDT: 32-bit interrupt gates, DPL 0 except INT3 and INTO (DPL 3)
    xor ecx, ecx
.gate:
    mov eax, pm_stub_int
    cmp ecx, 32
    jae .g
    mov eax, [pm_stub_table + ecx * 4]
.g:
    mov [IDT32 + ecx * 8], ax
    mov word [IDT32 + ecx * 8 + 2], CODE32_SEL
    mov word [IDT32 + ecx * 8 + 4], 0x8E00
    shr eax, 16
    mov [IDT32 + ecx * 8 + 6], ax
    inc ecx
    cmp ecx, 256
    jb .gate
    mov byte [IDT32 + 3 * 8 + 5], 0xEE
    mov byte [IDT32 + 4 * 8 + 5], 0xEE
    lidt [idt32_desc]
    ; the TSS: ESP0 for CPL 3 -> 0, no I/O bitmap (IOPL 0: every IN/OUT at CPL 3 faults)
    mov edi, TSS32
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    mov dword [TSS32 + 4], EXC_STACK
    mov dword [TSS32 + 8], DATA_SEL
    mov word [TSS32 + 0x66], 0x68
    mov ax, TSS32_SEL
    ltr ax
    call build_page_tables
    ; paging, CR0.WP (supervisor writes honour read-only), CR0.AM (#AC at CPL 3), CR0.NE,
    ; CR4.OSFXSR / OSXMMEXCPT (SSE usable). 32-bit paging with 4 MiB pages (CR4.PSE); PAE
    ; paging only with PAE_PDPTE_BUG: on VT-x the hypervisor does not load the VMCS guest
    ; PDPTEs when it emulates the MOV CR0 that turns PAE paging on (SDM 3C 26.3.2.4), and
    ; the guest triple-faults at the next fetch
    mov eax, cr4
%if PAE_PDPTE_BUG
    or eax, (1 << 5) | (1 << 9) | (1 << 10)
    mov cr4, eax
    mov eax, PG_PDPT_PAE
%else
    or eax, (1 << 4) | (1 << 9) | (1 << 10)
    mov cr4, eax
    mov eax, PG_PD32
%endif
    mov cr3, eax
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | (1 << 18) | (1 << 5)
    and eax, ~((1 << 2) | (1 << 3))     ; EM, TS off
    mov cr0, eax
    mov eax, cr0
    mov [fz_cr0], eax
    mov eax, cr3
    mov [fz_cr3], eax
    mov eax, cr4
    mov [fz_cr4], eax
    mov dword [fz_tbl_limit], fz_gdt_end - fz_gdt - 1
    mov dword [fz_tbl_base], fz_gdt
    mov dword [fz_tbl_limit + 4], 256 * 8 - 1
    mov dword [fz_tbl_base + 4], IDT32
    mov ecx, MSR_EFER
    rdmsr
    mov [fz_efer], eax
    mov [fz_efer + 4], edx
    FZ_CONTEXT 32, 0, 0, USER_DATA, CTX_PM32
    FZSTR_SEED "protected"

pm_loop:
    cmp dword [fz_phase_n], ITERATIONS
    jae pm_finished
    RANDB 3
    cmp eax, 1
    je .pm32
    ja .user
    FZ_CONTEXT 16, 0, 0, LOW_DATA, CTX_PM16
    mov edi, LOW_CODE
    jmp .gen
.pm32:
    FZ_CONTEXT 32, 0, 0, USER_DATA, CTX_PM32
    mov edi, USER_CODE
    jmp .gen
.user:
    FZ_CONTEXT 32, 1, 0, USER_DATA, CTX_PM32_USER
    mov edi, USER_CODE
.gen:
    push edi
    FZ_NEXT_STREAM
    pop edi
    call fz32_gen
    call fz32_regs
%if TRACE
    call fz32_trace
%endif
    mov byte [fz_in], 1
    mov dword [fz_steps], 0
    mov dword [fz_resumes], 0
    cmp byte [fz_ctx], CTX_PM16
    je .start16
    cmp byte [fz_ctx], CTX_PM32
    je .start32
    ; CPL 3: an outer-level IRET frame; RFLAGS.AC in half of the streams
    call fz32_rand
    and eax, RFLAGS_AC
    or eax, RFLAGS_TF | 2
    push dword UDATA_SEL
    push dword USER_STACK
    push eax
    push dword UCODE32_SEL
    push dword USER_CODE
    mov ax, UDATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    jmp .regs
.start16:
    mov esp, STREAM0_STACK
    push dword RFLAGS_TF | 2
    push dword CODE16_SEL
    push dword LOW_CODE
    jmp .regs
.start32:
    mov esp, STREAM0_STACK
    push dword RFLAGS_TF | 2
    push dword CODE32_SEL
    push dword USER_CODE
.regs:
    mov ecx, [fz_regs + 1 * 4]
    mov edx, [fz_regs + 2 * 4]
    mov ebx, [fz_regs + 3 * 4]
    mov ebp, [fz_regs + 5 * 4]
    mov esi, [fz_regs + 6 * 4]
    mov edi, [fz_regs + 7 * 4]
    mov eax, [fz_regs + 0 * 4]
    iretd

pm_done:
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    test byte [fz_dirty], DIRTY_DESC
    jz .cr
    lgdt [fz_gdt_desc]
    lidt [idt32_desc]
    xor eax, eax
    lldt ax
    str ax
    cmp ax, TSS32_SEL
    je .cr
    and byte [fz_gdt + TSS32_SEL + 5], ~2   ; clear both busy bits, then load ours again
    and byte [fz_gdt + TSS64_SEL + 5], ~2
    mov ax, TSS32_SEL
    ltr ax
.cr:
    test byte [fz_dirty], DIRTY_CR
    jz .dr
    mov eax, [fz_cr4]
    mov cr4, eax
    mov eax, [fz_cr3]
    mov cr3, eax
    mov eax, [fz_cr0]
    mov cr0, eax
.dr:
    test byte [fz_dirty], DIRTY_DR
    jz .msr
    mov eax, 0x400
    mov dr7, eax
.msr:
    test byte [fz_dirty], DIRTY_MSR
    jz pm_loop
    FZ_RESTORE_MSRS
    jmp pm_loop

pm_finished:
    FZSTR_STATS "protected"
    mov dword [fz_phase_n], 0
    xor ecx, ecx
.c:
    mov dword [fz_vec + ecx * 4], 0
    inc ecx
    cmp ecx, NVEC
    jb .c
    ; paging off: lmode.inc enters long mode from unpaged protected mode
    mov eax, cr0
    and eax, ~(1 << 31)
    mov cr0, eax
    jmp pm_to_lm

; Identity maps of the 16 MiB of RAM and of the 2 MiB (4 MiB) pages holding the addresses
; of the memory templates (fz_gpas: the MMIO device, uncached, unmapped space), in four page
; directories of 2 MiB pages shared by PAE and 4-level paging, and in a 32-bit page
; directory of 4 MiB pages. Supervisor-only but the user page USER_CODE (0x400000-0x5FFFFF).
; The rest is not present: a stray CPL 3 access takes a #PF. (Under QEMU, a CPL 3 access to a
; present supervisor page whose guest-physical address has no memory makes a nested page
; fault before the guest's own #PF: an emulator quirk the few mapped pages keep rare.)
; Long mode: PML4 -> PDPT (U/S set: the PDEs decide).
build_page_tables:
    mov edi, PG_PML4
    xor eax, eax
    mov ecx, (PG_PD32 + 0x1000 - PG_PML4) / 4
    rep stosd
    xor eax, eax
.ram:
    call .map
    add eax, 0x200000
    cmp eax, 16 << 20
    jb .ram
    xor ecx, ecx
.gpa:
    mov eax, [fz_gpas + ecx * 4]
    call .map
    inc ecx
    cmp ecx, FZ_NGPAS
    jb .gpa
    or dword [PG_PD + (USER_CODE >> 21) * 8], 1 << 2              ; U/S
    or dword [PG_PD + (MMIO_BASE >> 21) * 8], PG_PCD | PG_PWT
    or dword [PG_PD32 + (USER_CODE >> 22) * 4], 1 << 2
    or dword [PG_PD32 + (MMIO_BASE >> 22) * 4], PG_PCD | PG_PWT
    xor ecx, ecx
.pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, PG_PD
    mov edx, eax
    or eax, PG_P | PG_RW | (1 << 2)
    mov [PG_PDPT + ecx * 8], eax
    or edx, PG_P                    ; PAE PDPTEs: only P (RW, U/S are reserved there)
    mov [PG_PDPT_PAE + ecx * 8], edx
    inc ecx
    cmp ecx, 4
    jb .pdpt
    mov dword [PG_PML4], PG_PDPT | PG_P | PG_RW | (1 << 2)
    ret
.map:                               ; EAX = an address below 4 GiB: map its large pages
    push eax
    push edx
    mov edx, eax
    shr edx, 21
    and eax, ~0x1FFFFF
    or eax, PG_P | PG_RW | PG_PS
    mov [PG_PD + edx * 8], eax
    mov eax, [esp + 4]
    mov edx, eax
    shr edx, 22
    and eax, ~0x3FFFFF
    or eax, PG_P | PG_RW | PG_PS
    mov [PG_PD32 + edx * 4], eax
    pop edx
    pop eax
    ret

[section .data]
    align 8
fz_gdt:
    dq 0                            ; 0x00
    dq 0x00CF9A000000FFFF           ; 0x08 code32
    dq 0x00CF92000000FFFF           ; 0x10 data
    dq 0x00AF9A000000FFFF           ; 0x18 code64
    dq 0x00009A000000FFFF           ; 0x20 code16 (base 0, limit 64 KiB)
    dq 0x00CFFA000000FFFF           ; 0x28 user code32
    dq 0x00CFF2000000FFFF           ; 0x30 user data
    dq 0x00AFFA000000FFFF           ; 0x38 user code64
    dw 0x67, TSS32 & 0xFFFF         ; 0x40 32-bit TSS, available
    db (TSS32 >> 16) & 0xFF, 0x89, 0, (TSS32 >> 24) & 0xFF
    dw 0x67, TSS64 & 0xFFFF         ; 0x48 64-bit TSS (16 bytes)
    db (TSS64 >> 16) & 0xFF, 0x89, 0, (TSS64 >> 24) & 0xFF
    dq 0
fz_gdt_end:
fz_gdt_desc:
    dw fz_gdt_end - fz_gdt - 1
    dq fz_gdt
idt32_desc:
    dw 256 * 8 - 1
    dd IDT32
    align 4
pm_stub_table:
%assign v 0
%rep 32
    dd pm_stub_ %+ v
%assign v v + 1
%endrep
__?SECT?__

pm_to_lm:
; ============================================================================ long mode
    ENTER_LONG_MODE
    jmp lm_main

    FUZZ_GEN
    FUZZ_COMMON

%macro LM_STUBS 0
  %assign v 0
  %rep 32
lm_stub_ %+ v:
    %if !EXC_HAS_ERROR(v)
    push 0
    %endif
    push v
    jmp lm_common
  %assign v v + 1
  %endrep
lm_stub_int:
    push 0
    push VEC_INT
    jmp lm_common
%endmacro
    LM_STUBS

; [rsp] rax, [rsp+8] vector, [rsp+16] error, [rsp+24] rip (every gate uses IST1)
lm_common:
    push rax
    cmp byte [fz_in], 0
    je .out
    cmp qword [rsp + 8], 1
    jne .end
    inc dword [fz_steps]
    cmp dword [fz_steps], MAX_STEPS
    jae .budget
    pop rax
    add rsp, 16
    iretq
.budget:
    mov qword [rsp + 8], VEC_BUDGET
.end:
    mov rax, [rsp + 8]
    inc dword [fz_vec + rax * 4]
    cmp eax, VEC_BUDGET
    je .stop
    cmp eax, 8
    je .stop
    mov rax, [rsp + 24]
    cmp rax, USER_CODE + STREAM_MAX ; (a 64-bit RIP beyond the buffer: no item there)
    ja .stop
    call fz64_resume
    test eax, eax
    jz .stop
    mov [rsp + 24], rax
    pop rax
    add rsp, 16
    iretq
.stop:
    mov byte [fz_in], 0
    jmp lm_done
.out:
    mov eax, [fz_recover]
    test eax, eax
    jz .fatal
    mov [rsp + 24], rax
    mov dword [fz_recover], 0
    pop rax
    add rsp, 16
    iretq
.fatal:
    mov rax, [rsp + 8]
    mov rbx, [rsp + 24]
    jmp fz64_fatal

lm_main:
    mov eax, PG_PML4
    mov cr3, rax
    lgdt [fz_gdt_desc]
    ; the IDT: 64-bit interrupt gates on IST1, DPL 0 except INT3 and INTO
    xor ecx, ecx
.gate:
    mov eax, lm_stub_int
    cmp ecx, 32
    jae .g
    mov eax, [lm_stub_table + rcx * 4]
.g:
    mov rdx, rcx
    shl rdx, 4
    mov [IDT64 + rdx], ax
    mov word [IDT64 + rdx + 2], CODE64_SEL
    mov word [IDT64 + rdx + 4], 0x8E01          ; present, DPL 0, interrupt gate, IST1
    shr eax, 16
    mov [IDT64 + rdx + 6], ax
    mov qword [IDT64 + rdx + 8], 0
    inc ecx
    cmp ecx, 256
    jb .gate
    mov byte [IDT64 + 3 * 16 + 5], 0xEE
    mov byte [IDT64 + 4 * 16 + 5], 0xEE
    lidt [idt64_desc]
    mov edi, TSS64
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    mov dword [TSS64 + 4], EXC_STACK            ; RSP0
    mov dword [TSS64 + 0x24], EXC_STACK         ; IST1
    mov word [TSS64 + 0x66], 0x68
    and byte [fz_gdt + TSS64_SEL + 5], ~2
    mov ax, TSS64_SEL
    ltr ax
    mov rax, cr0
    or eax, (1 << 16) | (1 << 18) | (1 << 5)
    mov cr0, rax
    mov rax, cr4
    or eax, (1 << 9) | (1 << 10)
    mov cr4, rax
    mov rax, cr0
    mov [fz_cr0], eax
    mov rax, cr3
    mov [fz_cr3], eax
    mov rax, cr4
    mov [fz_cr4], eax
    mov dword [fz_tbl_limit], fz_gdt_end - fz_gdt - 1
    mov dword [fz_tbl_base], fz_gdt
    mov dword [fz_tbl_limit + 4], 256 * 16 - 1
    mov dword [fz_tbl_base + 4], IDT64
    mov ecx, MSR_EFER
    rdmsr
    mov [fz_efer], eax
    mov [fz_efer + 4], edx
    FZ_CONTEXT 64, 0, 0, USER_DATA, CTX_LM64
    FZSTR_SEED "long"

lm_loop:
    cmp dword [fz_phase_n], ITERATIONS
    jae lm_finished
    RANDB 3
    cmp eax, 1
    je .user
    ja .compat
    FZ_CONTEXT 64, 0, 0, USER_DATA, CTX_LM64
    jmp .gen
.user:
    FZ_CONTEXT 64, 1, 0, USER_DATA, CTX_LM64_USER
    jmp .gen
.compat:
    FZ_CONTEXT 32, 1, 0, USER_DATA, CTX_CM32_USER
.gen:
    FZ_NEXT_STREAM
    mov edi, USER_CODE
    call fz64_gen
    call fz64_regs
%if TRACE
    call fz64_trace
%endif
    ; the 64-bit register values: fz_regs (low halves) and fz_regs_hi
    xor ecx, ecx
.q:
    mov eax, [fz_regs_hi + rcx * 4]
    shl rax, 32
    mov edx, [fz_regs + rcx * 4]
    or rax, rdx
    mov [lm_regs + rcx * 8], rax
    inc ecx
    cmp ecx, 16
    jb .q
    mov byte [fz_in], 1
    mov dword [fz_steps], 0
    mov dword [fz_resumes], 0
    cmp byte [fz_ctx], CTX_LM64
    jne .start3
    mov rsp, STREAM0_STACK
    push DATA_SEL
    push STREAM0_STACK
    push RFLAGS_TF | 2
    push CODE64_SEL
    push USER_CODE
    jmp .regs
.start3:
    call fz64_rand
    and eax, RFLAGS_AC
    or eax, RFLAGS_TF | 2
    mov edx, UCODE64_SEL
    cmp byte [fz_ctx], CTX_LM64_USER
    je .cs
    mov edx, UCODE32_SEL
.cs:
    push UDATA_SEL
    push USER_STACK
    push rax
    push rdx
    push USER_CODE
    mov ax, UDATA_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
.regs:
    mov rcx, [lm_regs + 1 * 8]
    mov rdx, [lm_regs + 2 * 8]
    mov rbx, [lm_regs + 3 * 8]
    mov rbp, [lm_regs + 5 * 8]
    mov rsi, [lm_regs + 6 * 8]
    mov rdi, [lm_regs + 7 * 8]
    mov r8, [lm_regs + 8 * 8]
    mov r9, [lm_regs + 9 * 8]
    mov r10, [lm_regs + 10 * 8]
    mov r11, [lm_regs + 11 * 8]
    mov r12, [lm_regs + 12 * 8]
    mov r13, [lm_regs + 13 * 8]
    mov r14, [lm_regs + 14 * 8]
    mov r15, [lm_regs + 15 * 8]
    mov rax, [lm_regs + 0 * 8]
    iretq

lm_done:
    mov ax, DATA_SEL
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, STACK_TOP
    test byte [fz_dirty], DIRTY_DESC
    jz .cr
    lgdt [fz_gdt_desc]
    lidt [idt64_desc]
    xor eax, eax
    lldt ax
    str ax
    cmp ax, TSS64_SEL
    je .cr
    and byte [fz_gdt + TSS32_SEL + 5], ~2
    and byte [fz_gdt + TSS64_SEL + 5], ~2
    mov ax, TSS64_SEL
    ltr ax
.cr:
    test byte [fz_dirty], DIRTY_CR
    jz .dr
    mov eax, [fz_cr4]
    mov cr4, rax
    mov eax, [fz_cr3]
    mov cr3, rax
    mov eax, [fz_cr0]
    mov cr0, rax
    xor eax, eax
    mov cr8, rax
.dr:
    test byte [fz_dirty], DIRTY_DR
    jz .msr
    mov eax, 0x400
    mov dr7, rax
.msr:
    test byte [fz_dirty], DIRTY_MSR
    jz lm_loop
    FZ_RESTORE_MSRS
    jmp lm_loop

lm_finished:
    FZSTR_STATS "long"
    call fz64_line
    FZSTR "done streams="
    mov eax, [fz_total]
    call fz64_dec
    call fz64_flush
    xor ebx, ebx
    jmp fz64_stop

[section .data]
    align 8
idt64_desc:
    dw 256 * 16 - 1
    dq IDT64
    align 8
lm_regs: times 16 dq 0
lm_stub_table:
%assign v 0
%rep 32
    dd lm_stub_ %+ v
%assign v v + 1
%endrep
__?SECT?__

    FUZZ_DATA
    FUZZ_MISC_DATA
