# Peregrine: build the kernel (Embedded Swift + C shim + NASM), pack the GRUB ISO, run and test.
# `make run` and `make test` install what is missing first (scripts/install-deps.sh).

SWIFT_BIN   ?= /opt/swift/usr/bin
SWIFTC      := $(SWIFT_BIN)/swiftc
CLANG       := $(SWIFT_BIN)/clang
LD          := $(SWIFT_BIN)/ld.lld
NM          := $(SWIFT_BIN)/llvm-nm
DEMANGLE    := $(SWIFT_BIN)/swift-demangle
NASM        ?= nasm

BUILD       := build
OBJ         := $(BUILD)/obj
ISO         ?= $(BUILD)/peregrine.iso
ELF         := $(BUILD)/peregrine.elf
CMDLINE     ?= loglevel=info
# -O: the exit path is measured in instructions; -Osize is the smaller alternative.
SWIFT_OPT   ?= -O

EMBEDDED_FLAGS := -enable-experimental-feature Embedded -target x86_64-unknown-none-elf \
  -wmo -parse-as-library $(SWIFT_OPT) -cross-module-optimization -enforce-exclusivity=unchecked -Xcc -mno-red-zone -Xcc -ffreestanding \
  -Xfrontend -disable-stack-protector -Xllvm -frame-pointer=all -I $(OBJ) -I Sources/CArch/include
CFLAGS := -target x86_64-unknown-none-elf -ffreestanding -mno-red-zone -fno-stack-protector \
  -fno-omit-frame-pointer -O2 -Wall -ISources/CArch/include

sources = $(shell find Sources/$(1) -name '*.swift' | sort)

.PHONY: all kernel iso run run-test-guests test test-slow unit-test integration-test bench deps clean format linux-fixtures
all: iso

deps:
	@scripts/install-deps.sh

$(OBJ)/BuildInfo.swift: VERSION FORCE
	@mkdir -p $(OBJ)
	@# One shell, its own temporary file: the integration runner builds ISOs in parallel.
	@tmp=$@.$$$$.tmp; \
	printf 'enum BuildInfo {\n  static let version: StaticString = "%s"\n}\n' \
	  "$$(cat VERSION)$$(git rev-parse --short HEAD 2>/dev/null | sed 's/^/+/')" > $$tmp; \
	cmp -s $$tmp $@ && rm $$tmp || mv $$tmp $@

# One Embedded module: $(1) name, $(2) the modules it imports.
define swift_module
$(OBJ)/$(1).o: $(call sources,$(1)) $(foreach d,$(2),$(OBJ)/$(d).o)
	@mkdir -p $(OBJ)
	@echo "  SWIFT   $(1)"
	@$(SWIFTC) $(EMBEDDED_FLAGS) -module-name $(1) -emit-module -emit-module-path $(OBJ)/$(1).swiftmodule \
	  -c $(call sources,$(1)) -o $$@
	@touch $$@  # swiftc leaves an unchanged object's time alone; make must see it as new
endef
$(eval $(call swift_module,BootProtocols,))
$(eval $(call swift_module,Memory,))
$(eval $(call swift_module,HypervisorCore,Memory))
$(eval $(call swift_module,SVM,HypervisorCore))
$(eval $(call swift_module,VMX,HypervisorCore))
$(eval $(call swift_module,ControlProtocol,))
$(eval $(call swift_module,NetworkProtocols,))
$(eval $(call swift_module,PCI,Memory))

KERNEL_DEPS := BootProtocols Memory HypervisorCore SVM VMX ControlProtocol NetworkProtocols PCI
$(OBJ)/Kernel.o: $(call sources,Kernel) $(OBJ)/BuildInfo.swift $(foreach d,$(KERNEL_DEPS),$(OBJ)/$(d).o) $(wildcard Sources/CArch/include/*.h)
	@echo "  SWIFT   Kernel"
	@$(SWIFTC) $(EMBEDDED_FLAGS) -module-name Kernel -c $(call sources,Kernel) $(OBJ)/BuildInfo.swift -o $@
	@touch $@

C_SOURCES   := $(wildcard Sources/CArch/*.c)
ASM_SOURCES := $(wildcard boot/*.asm)
C_OBJECTS   := $(patsubst Sources/CArch/%.c,$(OBJ)/c_%.o,$(C_SOURCES))
ASM_OBJECTS := $(patsubst boot/%.asm,$(OBJ)/asm_%.o,$(ASM_SOURCES))

$(OBJ)/c_%.o: Sources/CArch/%.c $(wildcard Sources/CArch/include/*.h)
	@mkdir -p $(OBJ)
	@echo "  CC      $<"
	@$(CLANG) $(CFLAGS) -c $< -o $@

$(OBJ)/asm_%.o: boot/%.asm $(wildcard boot/*.inc)
	@mkdir -p $(OBJ)
	@echo "  NASM    $<"
	@$(NASM) -f elf64 -w+all -I boot/ -o $@ $<

SWIFT_OBJECTS := $(foreach m,$(KERNEL_DEPS) Kernel,$(OBJ)/$(m).o)

$(ELF): $(SWIFT_OBJECTS) $(C_OBJECTS) $(ASM_OBJECTS) linker.ld
	@echo "  LD      $@"
	@$(LD) -T linker.ld -z max-page-size=0x1000 -nostdlib -static --gc-sections -o $@ \
	  $(ASM_OBJECTS) $(C_OBJECTS) $(SWIFT_OBJECTS)

# The symbol table GRUB hands over as the module "symbols", for symbolized backtraces.
$(BUILD)/peregrine.sym: $(ELF)
	@$(NM) -n --defined-only $< | grep -E ' [tTwW] ' | $(DEMANGLE) --simplified \
	  | awk '{ a=$$1; t=$$2; $$1=""; $$2=""; sub(/^  /, ""); printf "%016s %s %s\n", a, t, $$0 }' > $@

kernel: $(ELF)

include guests/guests.mk

# The ISO: GRUB, the kernel, its symbols, and the guest images as modules, each with its
# VM profile: GUEST_MODULES="FILE:vm name=... mem=...;FILE:vm ...". By default, the
# built-in test guests. FLAT_GUEST=path/guest.bin [FLAT_ARGS='load=0x1000
# entry=0000:1000 mem=16M'] [FLAT_NAME=name] makes an ISO whose guest is that flat binary.
DEFAULT_GUESTS := build/guests/tests/real-mode.bin:vm name=real-mode;build/guests/tests/protected-mode.bin:vm name=protected-mode;build/guests/tests/long-mode.bin:vm name=long-mode
# GUEST_KERNEL=bzImage [GUEST_INITRD=initramfs] [GUEST_CMDLINE="..."] [GUEST_MEM=256M]: a
# Linux guest loaded by the x86 boot protocol (in progress: see docs/linux-guest.md).
GUEST_MEM ?= 256M
# GUEST_CPUS=N: the Linux guest's vCPUs (cpus= in its profile).
GUEST_CPUS ?= 1
GUEST_CMDLINE ?= console=ttyS0 earlyprintk=serial,ttyS0,115200
# GUEST_DISK=FILE [GUEST_DISK_NAME=name]: the Linux guest's virtio-blk disk, a private copy of
# FILE (whole 512-byte sectors; the name, FILE's by default, is 1-31 of A-Z a-z 0-9 - _ .).
GUEST_DISK_NAME ?= $(notdir $(GUEST_DISK))
ifdef GUEST_KERNEL
GUEST_MODULES ?= $(GUEST_KERNEL):vm name=linux kind=linux mem=$(GUEST_MEM) cpus=$(GUEST_CPUS)$(if $(GUEST_DISK), disk=$(GUEST_DISK_NAME)) -- $(GUEST_CMDLINE)$(if $(GUEST_INITRD),;$(GUEST_INITRD):initrd vm=linux)$(if $(GUEST_DISK),;$(GUEST_DISK):disk vm=$(GUEST_DISK_NAME))
endif
ifdef FLAT_GUEST
FLAT_NAME ?= $(basename $(notdir $(FLAT_GUEST)))
GUEST_MODULES ?= $(FLAT_GUEST):vm name=$(FLAT_NAME) $(FLAT_ARGS)
endif
# MULTIBOOT_GUEST=kernel.elf [MULTIBOOT_CMDLINE="..."] [MULTIBOOT_MEM=64M] [MULTIBOOT_CPUS=1]
# [MULTIBOOT_MODULES="a.bin b.bin"] [MULTIBOOT_NAME=name]: a multiboot (v1 or v2) kernel,
# entered in 32-bit protected mode with each of MULTIBOOT_MODULES as a multiboot module whose
# string is its file name (docs/multiboot-guest.md).
MULTIBOOT_MEM ?= 64M
MULTIBOOT_CPUS ?= 1
ifdef MULTIBOOT_GUEST
MULTIBOOT_NAME ?= $(basename $(notdir $(MULTIBOOT_GUEST)))
GUEST_MODULES ?= $(MULTIBOOT_GUEST):vm name=$(MULTIBOOT_NAME) kind=multiboot mem=$(MULTIBOOT_MEM) cpus=$(MULTIBOOT_CPUS)$(if $(strip $(MULTIBOOT_CMDLINE)), -- $(MULTIBOOT_CMDLINE))$(foreach m,$(MULTIBOOT_MODULES),;$(m):module vm=$(MULTIBOOT_NAME) $(notdir $(m)))
endif
GUEST_MODULES ?= $(DEFAULT_GUESTS)
iso: $(ISO)
$(ISO): $(ELF) $(BUILD)/peregrine.sym scripts/make-iso.sh guests FORCE
	@scripts/make-iso.sh "$@" "$(CMDLINE)" "$(GUEST_MODULES)"

FORCE:

# `make run` boots Debian's Linux kernel by default (fetched into build/linux); any guest
# named on the command line (FLAT_GUEST, GUEST_KERNEL, MULTIBOOT_GUEST, GUEST_MODULES) replaces it, and
# `make run GUEST_MODULES="$(DEFAULT_GUESTS)"`-style calls boot the built-in test guests.
LINUX_BY_DEFAULT := $(if $(filter command line environment,$(origin GUEST_MODULES) $(origin FLAT_GUEST) $(origin GUEST_KERNEL) $(origin MULTIBOOT_GUEST)),,yes)
run: deps
ifeq ($(LINUX_BY_DEFAULT),yes)
	@scripts/fetch-linux-fixtures.sh
	@$(MAKE) --no-print-directory iso GUEST_KERNEL=build/linux/vmlinuz GUEST_INITRD=build/linux/initramfs.cpio.gz
else
	@$(MAKE) --no-print-directory iso
endif
	PEREGRINE_DEBUG_EXIT=0 scripts/run-qemu.sh $(ISO)

# The built-in test guests (real, protected and long mode) under QEMU.
run-test-guests: deps
	@$(MAKE) --no-print-directory iso GUEST_MODULES="$(DEFAULT_GUESTS)"
	PEREGRINE_DEBUG_EXIT=0 scripts/run-qemu.sh $(ISO)

test: deps
	@scripts/test.sh

# The slow cases (minutes each: a multi-CPU Linux boot under Bochs); CI may skip them.
test-slow: deps
	@python3 Tests/Integration/run.py --slow

bench: deps
	@scripts/bench.sh
	@scripts/bench-management.sh
	@scripts/bench-net.sh
	@scripts/bench-nvme.sh
	@scripts/bench-migration.sh
	@scripts/ft-validate.sh

# `make fuzz`: each libFuzzer target (Fuzz/Targets) for FUZZ_SECONDS, then the guest-side
# fuzzing when scripts/fuzz-guest.sh exists; `make fuzz-merge` folds new finds into
# Fuzz/Corpus. See Fuzz/README.md.
.PHONY: fuzz fuzz-merge
FUZZ_SECONDS ?= 60
fuzz:
	@status=0; Fuzz/run.sh --seconds $(FUZZ_SECONDS) || status=1; \
	if [ -f scripts/fuzz-guest.sh ]; then \
	  FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz-guest.sh || status=1; \
	fi; \
	exit $$status

fuzz-merge:
	@Fuzz/make-seeds.py --prune-stale-datagrams && Fuzz/make-seeds.py >/dev/null && Fuzz/run.sh --merge

linux-fixtures: deps
	@scripts/fetch-linux-fixtures.sh

# `make bench-compare BASE=<git rev>`: the deterministic bench figures (exit costs under
# -icount and Bochs, ELF sections, memory per VM) of BASE, built in a git worktree under
# build/compare, against this tree, with each metric's change (scripts/bench-compare.sh).
.PHONY: bench-compare
bench-compare: deps
	@scripts/bench-compare.sh "$(BASE)"

# `make cli`: the management CLI, build/bin/peregrine, a host program (docs/cli.md).
.PHONY: cli
# CLI_CONFIGURATION=debug reuses what `swift test` built (scripts/test-cli.sh does).
CLI_CONFIGURATION ?= release
cli:
	@swift build -c $(CLI_CONFIGURATION) --product peregrine
	@mkdir -p $(BUILD)/bin
	@# Copied then renamed: a running peregrine (an integration case's) keeps its old file.
	@cp "$$(swift build -c $(CLI_CONFIGURATION) --show-bin-path)/peregrine" $(BUILD)/bin/peregrine.$$$$ \
	  && mv -f $(BUILD)/bin/peregrine.$$$$ $(BUILD)/bin/peregrine
	@echo "  CLI     $(BUILD)/bin/peregrine"

format:
	$(SWIFT_BIN)/swift-format format -i -r Sources Tests Package.swift

clean:
	rm -rf $(BUILD)
