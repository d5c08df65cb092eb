#!/usr/bin/env bash
# Builds the libFuzzer targets with ASan and runs them.
#   Fuzz/run.sh TARGET SECONDS [SEED...]   one target; without SEEDs, its default seeds
#   Fuzz/run.sh all SECONDS                 every target in turn, each with its default seeds
# A SEED is a folder (its files under 2 MiB are copied) or `zstd:FOLDER` (its `*.zst` files are
# decompressed first), relative to where we were called from. The corpus grows in a scratch
# copy (.build/corpus-TARGET), so committed seeds stay as they are; crash inputs land in
# .build/artifacts-TARGET. Exits non-zero when a fuzzer finds a crash, a leak or a timeout.
# FUZZ_FLAGS adds libFuzzer flags (e.g. FUZZ_FLAGS=-jobs=2).
set -euo pipefail
target=${1:?target: FuzzQCOW2, FuzzImage, FuzzArchive, FuzzTar, FuzzZstd or all}
seconds=${2:-60}
shift 2 || true
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
targets=(FuzzQCOW2 FuzzImage FuzzArchive FuzzTar FuzzZstd)

# Each target's seeds, relative to the repository root.
default_seeds() {
    case "$1" in
        FuzzQCOW2|FuzzImage) echo "Fuzz/Seeds/FuzzImage TestImages/qcow2 zstd:TestImages/qcow2-data/images Fuzz/Seeds/FuzzQCOW2" ;;
        FuzzArchive) echo "Fuzz/Seeds/FuzzArchive TestImages/tar zstd:TestImages/tar" ;;
        FuzzTar) echo "TestImages/tar zstd:TestImages/tar Fuzz/Seeds/FuzzArchive Fuzz/Seeds/FuzzTar" ;;
        FuzzZstd) echo "TestImages/sample TestImages/tar TestImages/qcow2-data/images" ;;
        *) echo "run.sh: unknown target $1" >&2; exit 2 ;;
    esac
}

if [ "$target" = all ]; then
    for t in "${targets[@]}"; do "$0" "$t" "$seconds"; done
    exit 0
fi

# Seed folders given on the command line are relative to the caller; default ones to the root.
seeds=()
if [ $# -gt 0 ]; then
    for seed in "$@"; do
        prefix=""; folder=$seed
        if [[ $seed == zstd:* ]]; then prefix="zstd:"; folder=${seed#zstd:}; fi
        seeds+=("$prefix$(cd "$folder" 2>/dev/null && pwd || echo "$folder")")
    done
else
    for seed in $(default_seeds "$target"); do
        if [[ $seed == zstd:* ]]; then seeds+=("zstd:$root/${seed#zstd:}"); else seeds+=("$root/$seed"); fi
    done
fi

cd "$here"
# Release: the optimised code runs 5-10 times more inputs a second than a debug build.
swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$target" 2>&1 \
    | { grep -vE "Cannot export local symbol" || true; } >&2
corpus=".build/corpus-$target"
artifacts=".build/artifacts-$target"
mkdir -p "$corpus" "$artifacts"
for seed in "${seeds[@]}"; do
    folder=${seed#zstd:}
    if [ ! -d "$folder" ]; then
        # A target's own seed folder may not exist yet; any other missing folder is a mistake.
        [[ $folder == */Fuzz/Seeds/* ]] && continue
        echo "run.sh: no seed folder $folder" >&2; exit 2
    fi
    if [[ $seed == zstd:* ]]; then
        for file in "$folder"/*.zst; do
            [ -f "$file" ] || continue
            out="$corpus/$(basename "$file" .zst)"
            [ -e "$out" ] || zstd -q -d -c "$file" > "$out"
            # Like the plain folders' files: under 2 MiB.
            [ "$(stat -c %s "$out")" -le 2097152 ] || rm -f "$out"
        done
    else
        find "$folder" -maxdepth 1 -type f -size -2M -exec cp -n {} "$corpus/" \;
    fi
done
echo "run.sh: $target for $seconds s, $(find "$corpus" -type f | wc -l) inputs in the corpus" >&2
# The qcow2 targets' seeds are at most a few hundred KiB; longer inputs only slow them down.
case "$target" in FuzzQCOW2|FuzzImage|FuzzArchive) max_len=262144 ;; *) max_len=1048576 ;; esac
# ASan records the stack of every allocation (30 frames by default): a third of a qcow2 target's
# time went to unwinding them. 10 frames still name the allocating function and its callers in
# a report; set ASAN_OPTIONS to change it.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=10}"
"./.build/release/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} "$corpus"
