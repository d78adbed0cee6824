#!/usr/bin/env bash
# Mutation score of the core and the shell (docs/checker.md, "Mutation score").
#
#   scripts/mutants.sh SUITE [SHARD] [OUT]
#
# SUITE   full     every test of the workspace kills (cargo test --workspace)
#         checker  only the model checker's tests and the conformance replay kill
#                  (cargo test -p model --test model, cargo test -p conformance)
# SHARD   K/N      run the K-th of N shards (default 0/1: everything); shards of one run
#                  can go to different machines or one after another
# OUT     directory for cargo-mutants' output and the summary (default target/mutants/SUITE-K-of-N)
#
# MUTANTS_ARGS (environment) adds cargo-mutants options, e.g. "--file model/core/src/status.rs".
#
# Mutants are made in swim-checked-core (model/core) and swim-checked (impl), outside their
# deliberately broken variants (faults.rs: compiled only under --cfg swim_faults). One mutant is
# built and tested at a time (2-core machine: the tests use both cores). Not in CI: a full run
# takes hours. Needs cargo-mutants (`cargo install cargo-mutants`).
set -euo pipefail
cd "$(dirname "$0")/.."

suite="${1:-}"
shard="${2:-0/1}"
case "$suite" in
full) tests=(--test-workspace=true) ;;
checker) tests=(--test-package model --test-package conformance) ;;
*)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
if ! [[ "$shard" =~ ^[0-9]+/[1-9][0-9]*$ ]]; then
    echo "shard must be K/N, e.g. 0/8" >&2
    exit 2
fi
out="${3:-target/mutants/$suite-${shard%/*}-of-${shard#*/}}"
command -v cargo-mutants >/dev/null || {
    echo "cargo-mutants is required: cargo install cargo-mutants" >&2
    exit 1
}
mkdir -p "$out"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

# cargo-mutants exits non-zero when a mutant survives: the summary is what we want.
cargo mutants \
    --package swim-checked-core --package swim-checked \
    --exclude 'model/core/src/faults.rs' --exclude 'impl/src/faults*.rs' \
    "${tests[@]}" \
    --shard "$shard" --jobs 1 --timeout 900 \
    --output "$out" ${MUTANTS_ARGS:-} || true

outcomes="$out/mutants.out/outcomes.json"
[ -f "$outcomes" ] || {
    echo "no $outcomes: cargo-mutants did not run" >&2
    exit 1
}
python3 - "$outcomes" "$suite" "$shard" >"$out/summary.txt" <<'EOF'
import json, sys
path, suite, shard = sys.argv[1:]
data = json.load(open(path))
counts = {}
survivors = []
for o in data.get("outcomes", []):
    scenario = o.get("scenario")
    if not isinstance(scenario, dict) or "Mutant" not in scenario:
        continue
    summary = o.get("summary", "?")
    counts[summary] = counts.get(summary, 0) + 1
    if summary == "MissedMutant":
        m = scenario["Mutant"]
        name = m.get("name")
        if not name:
            line = (m.get("span") or {}).get("start", {}).get("line", "?")
            name = f"{m.get('file', '?')}:{line}: {m.get('replacement', '')}"
        survivors.append(name)
caught = counts.get("CaughtMutant", 0) + counts.get("Timeout", 0)
viable = caught + counts.get("MissedMutant", 0)
print(f"suite {suite}, shard {shard}")
for k in sorted(counts):
    print(f"  {k}: {counts[k]}")
score = f"{100 * caught / viable:.1f}%" if viable else "n/a"
print(f"caught {caught} of {viable} viable mutants ({score}); unviable ones do not build")
print("survivors (explain each in docs/checker.md, or kill it with a test):")
for s in survivors:
    print(f"  {s}")
EOF
cat "$out/summary.txt"
