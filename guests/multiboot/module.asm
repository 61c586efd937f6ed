; module.asm -- the module the multiboot test kernels are given ("mod-one"): they check that
; it starts with these bytes.
    db "PEREGRINE-MODULE", 0
