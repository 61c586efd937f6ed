#ifndef PEREGRINE_WORLD_SWITCH_H
#define PEREGRINE_WORLD_SWITCH_H
#include <stdint.h>
/* boot/svm_world_switch.asm: runs the guest until the next #VMEXIT. */
void svm_world_switch(uint64_t guest_vmcb, uint64_t host_vmcb, void *register_file);
/* How often svm_world_switch found the emulator had left the guest's CR0 in the host
   after #VMEXIT and put the host's back (docs/hardening.md). */
extern uint64_t svm_host_cr0_repairs;
/* boot/vmx_world_switch.asm: 0 after a VM exit, 1 when VM entry itself failed. */
int vmx_world_switch(void *register_file, int launched);
extern char vmx_exit_landing[];
static inline uint64_t vmx_exit_landing_address(void) { return (uint64_t)(uintptr_t)vmx_exit_landing; }
#endif
