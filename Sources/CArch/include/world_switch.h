#ifndef PEREGRINE_WORLD_SWITCH_H
#define PEREGRINE_WORLD_SWITCH_H
#include <stdint.h>
/* boot/svm_world_switch.asm: runs the guest until the next #VMEXIT. */
void svm_world_switch(uint64_t guest_vmcb, uint64_t host_vmcb, void *register_file);
#endif
