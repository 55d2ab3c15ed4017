#!/usr/bin/env bash
# The profile for the profile-guided Release build (see CMakeLists.txt, STRATUS_PGO): builds an
# instrumented stratus in BUILD/pgo-gen, runs it through scripts/pgo-train.mjs (everything on
# 127.0.0.1, about 20 s) and leaves the profile in BUILD/pgo-profile. Does nothing while the
# profile is newer than every source file, so only a change to the code retrains.
# Usage: scripts/pgo.sh [BUILD]            (`make build` runs it; `make build PGO=0` does not)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath -m "${1:-build}")
gen=$build/pgo-gen
profile=$build/pgo-profile
stamp=$profile/stamp

inputs=(src CMakeLists.txt scripts/pgo.sh scripts/pgo-train.mjs bench/load/chat.json data)
if [[ -f $stamp && -z $(find "${inputs[@]}" -newer "$stamp" -print -quit) ]]; then
  exit 0
fi
echo "pgo: training profile for the optimized build (instrumented build in $gen)"
cmake -S . -B "$gen" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATUS_PGO=GENERATE \
  -DSTRATUS_PGO_DIR="$profile/data" -DSTRATUS_TESTS=OFF -DSTRATUS_BENCH=OFF >/dev/null
cmake --build "$gen" --target stratus -j "$(nproc)"
rm -rf "$profile/data" # counts from an earlier run would be added to the new ones
mkdir -p "$profile/data"
node scripts/pgo-train.mjs "$gen/stratus" 2
n=$(find "$profile/data" -name '*.gcda' | wc -l)
((n > 0)) || { echo "pgo: the training wrote no profile" >&2; exit 1; }
echo "pgo: $n profile files"
touch "$stamp"
