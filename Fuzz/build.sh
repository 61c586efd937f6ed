#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/Targets/*.swift) for the host into build/fuzz/bin.
#
# Each platform-neutral module a target needs is compiled once, with the fuzzer's coverage
# instrumentation and AddressSanitizer, to an object and a .swiftmodule in build/fuzz/obj;
# a target is its one file linked with those objects. A target names the modules it imports
# on a line `// fuzz-modules: A B` (in dependency order).
#
# Usage: Fuzz/build.sh [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTC=${SWIFTC:-/opt/swift/usr/bin/swiftc}
# FUZZ_OPTIMIZATION=-Onone: half the CPU to build (79 s against 164 s), slower inputs (86 s
# against 48 s for 14 x 20,000), the same checks; its objects and targets live apart
# (build/fuzz/obj-Onone, bin-Onone).
# FUZZ_OPTIMIZATION=swiftpm (make test's pass since it must fit in 20 minutes): no module
# is compiled here; each target file (with the fuzzer's coverage and ASan) is linked with the
# objects `swift build` made for the tests (debug, -Onone). About 1 s per target instead of
# 79 s of CPU for the modules, at a price: no coverage guidance from the modules' code (new
# inputs are mutations the target file's coverage alone steers) and no ASan inside them
# (its interceptors, memcpy and the like, still check). The committed corpus is replayed
# whole, so every input earlier fuzzing kept still runs; `make fuzz` fuzzes in full.
optimization=${FUZZ_OPTIMIZATION:--O}
# `Fuzz/build.sh --bin-dir` prints where the targets go, for Fuzz/run.sh.
case "$optimization" in
  -O) suffix= ;;
  -Onone) suffix=-Onone ;;
  swiftpm) suffix=-swiftpm ;;
  *) echo "FUZZ_OPTIMIZATION: -O, -Onone or swiftpm" >&2; exit 2 ;;
esac
OBJ=build/fuzz/obj$suffix
BIN=build/fuzz/bin$suffix
if [ "${1:-}" = --bin-dir ]; then echo "$BIN"; exit 0; fi
mkdir -p "$OBJ" "$BIN"
SWIFTPM_DEBUG=.build/$(uname -m)-unknown-linux-gnu/debug
# By default -O, the kernel's optimiser, for the most inputs per second (`make fuzz`). Its
# overflow and bounds checks stay on, as at -Onone (only -Ounchecked removes them), so every
# trap the fuzzer finds at either level is one the kernel would take.
FLAGS=(-sanitize=fuzzer,address -parse-as-library "$optimization" -swift-version 5)
# The harness itself: -Onone keeps the text of its precondition failures in the report.
# lld: gold warns once per ASan helper symbol it cannot export.
TARGET_FLAGS=(-Onone -use-ld=lld)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for file in Fuzz/Targets/*.swift; do targets+=("$(basename "$file" .swift)"); done
fi

# Modules a target imports, from its `// fuzz-modules:` line.
modules_of() { sed -n 's|^// fuzz-modules: *||p' "Fuzz/Targets/$1.swift" | head -1; }

# HypervisorCore and PCI import Memory; the others import nothing.
dependencies_of() { case "$1" in HypervisorCore | PCI) echo Memory ;; *) ;; esac; }

build_module() {
  local module=$1 sources inputs
  for dependency in $(dependencies_of "$module"); do build_module "$dependency"; done
  sources=$(find "Sources/$module" -name '*.swift' | sort)
  inputs="$sources $(for d in $(dependencies_of "$module"); do echo "$OBJ/$d.o"; done)"
  # Rebuild only when a source or a module it imports is newer than the object.
  # shellcheck disable=SC2086
  if [ -f "$OBJ/$module.o" ] && [ -z "$(find $inputs -newer "$OBJ/$module.o" | head -1)" ]; then
    return
  fi
  echo "  FUZZ    module $module"
  # shellcheck disable=SC2086
  "$SWIFTC" "${FLAGS[@]}" -wmo -I "$OBJ" -module-name "$module" -emit-module \
    -emit-module-path "$OBJ/$module.swiftmodule" -c $sources -o "$OBJ/$module.o.tmp"
  mv "$OBJ/$module.o.tmp" "$OBJ/$module.o"
}

# swiftpm: a module's objects from `swift build`, one per source file the module has now
# (SwiftPM leaves a deleted file's object behind), each of which must be there.
swiftpm_objects() {
  local module=$1 source object
  for dependency in $(dependencies_of "$module"); do swiftpm_objects "$dependency" || return 1; done
  while read -r source; do
    object="$SWIFTPM_DEBUG/$module.build/$(basename "$source").o"
    [ -f "$object" ] || { echo "no $object: run swift build first" >&2; return 1; }
    echo "$object"
  done < <(find "Sources/$module" -name '*.swift' | sort)
}

for target in "${targets[@]}"; do
  source="Fuzz/Targets/$target.swift"
  [ -f "$source" ] || { echo "no such fuzz target: $target" >&2; exit 2; }
  if [ "$optimization" = swiftpm ]; then
    objects=()
    for module in $(modules_of "$target"); do
      listed=$(swiftpm_objects "$module") || exit 1
      while read -r object; do objects+=("$object"); done <<< "$listed"
    done
    # (ls meets SIGPIPE from head with this many objects: not a failure.)
    newest=$(ls -t "$source" "${objects[@]}" | head -1 || true)
    if [ -x "$BIN/$target" ] && [ "$BIN/$target" -nt "$newest" ]; then continue; fi
    echo "  FUZZ    target $target (swift build's objects)"
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -swift-version 5 "${TARGET_FLAGS[@]}" \
      -I "$SWIFTPM_DEBUG/Modules" -module-name "Fuzz_${target//-/_}" "$source" \
      $(printf '%s\n' "${objects[@]}" | awk '!seen[$0]++') -o "$BIN/$target"
    continue
  fi
  objects=()
  for module in $(modules_of "$target"); do
    build_module "$module"
    for dependency in $(dependencies_of "$module"); do objects+=("$OBJ/$dependency.o"); done
    objects+=("$OBJ/$module.o")
  done
  newest=$(ls -t "$source" "${objects[@]}" | head -1)
  if [ -x "$BIN/$target" ] && [ "$BIN/$target" -nt "$newest" ]; then continue; fi
  echo "  FUZZ    target $target"
  "$SWIFTC" "${FLAGS[@]}" "${TARGET_FLAGS[@]}" -I "$OBJ" -module-name "Fuzz_${target//-/_}" "$source" \
    $(printf '%s\n' "${objects[@]}" | awk '!seen[$0]++') -o "$BIN/$target"
done
