#!/usr/bin/env bash
# Builds the libFuzzer targets with ASan and runs one of them.
#   Fuzz/run.sh TARGET SECONDS [SEED_FOLDER...]
# The corpus grows in a scratch copy (.build/corpus-TARGET), so committed seeds stay as they are.
# Exits non-zero when the fuzzer finds a crash, a leak or a timeout.
set -euo pipefail
target=${1:?target, e.g. FuzzQCOW2}
seconds=${2:-60}
shift 2 || true
# Seed folders are given relative to where we were called from.
seeds=()
for folder in "$@"; do seeds+=("$(cd "$folder" 2>/dev/null && pwd || echo "$folder")"); done
cd "$(dirname "$0")"
swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$target" 2>&1 \
    | grep -vE "Cannot export local symbol" >&2
corpus=".build/corpus-$target"
mkdir -p "$corpus"
for folder in "${seeds[@]}"; do
    if [ ! -d "$folder" ]; then echo "run.sh: no seed folder $folder" >&2; exit 2; fi
    find "$folder" -maxdepth 1 -type f -size -2M -exec cp -n {} "$corpus/" \;
done
echo "run.sh: $(find "$corpus" -type f | wc -l) inputs in the corpus" >&2
"./.build/debug/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -print_final_stats=1 "$corpus"
