#ifndef PEREGRINE_WORLD_SWITCH_H
#define PEREGRINE_WORLD_SWITCH_H
#include <stdint.h>
/* boot/svm_world_switch.asm: runs the guest until the next #VMEXIT. */
#include "exit_fast_path.h"
void svm_world_switch(uint64_t guest_vmcb, uint64_t host_vmcb, void *register_file,
                      struct exit_fast_path *fast);
/* boot/vmx_world_switch.asm: 0 after a VM exit, 1 when VM entry itself failed. */
int vmx_world_switch(void *register_file, int launched, struct exit_fast_path *fast);
extern char vmx_exit_landing[];
static inline uint64_t vmx_exit_landing_address(void) { return (uint64_t)(uintptr_t)vmx_exit_landing; }
#endif
