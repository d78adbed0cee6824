#!/usr/bin/env bash
# Mutation score of the core and the shell (docs/checker.md, "Mutation score").
#
#   scripts/mutants.sh [SHARD] [OUT]
#
# SHARD  K/N: mutant i belongs to shard i % N (round robin), so one shard is an even sample
#        of every file and N shards together are every mutant (default 0/1: all of them).
#        Shards can run on different machines or one after another. Run again with the same
#        SHARD and OUT, a run that was stopped resumes: mutants already judged are skipped.
# OUT    output directory (default target/mutants/K-of-N)
#
# Each mutant of the committed HEAD goes through up to three stages, and OUT/summary.txt gives
# two scores: the checker stage's, and the whole suite's (a mutant caught by any stage):
#   checker    the checker and the conformance suite alone: the default `check` (the ignored
#              test the_default_check_holds_and_reaches_everything), the model checker's tests,
#              the conformance replay, and agents on loopback whose recordings are validated
#              against the model (e2e's loopback_recordings_are_model_steps), under
#              cargo-nextest, stopping at the first failure (profile `mutants` in
#              .config/nextest.toml: the slowest tests start first);
#   units      what the checker missed, against the tests of the mutant's own package;
#   workspace  what is still left, against every test of the workspace (cargo test
#              --workspace, as CI runs it).
#
# MUTANTS_ARGS (environment) adds cargo-mutants options to every stage, e.g.
# "--file model/core/src/status.rs". MUTANTS_STAGES (environment) runs only these stages
# (default "checker units workspace"); a later stage takes what the earlier ones missed so far.
# MUTANTS_REJUDGE (environment) names stages whose misses in OUT are judged again, e.g.
# "checker" after the checker's tests got stronger (copy OUT first to keep the old figures).
#
# Mutants are made in swim-checked-core (model/core) and swim-checked (impl, with the agent),
# outside their deliberately broken variants (faults.rs: compiled only under --cfg swim_faults).
# The mutants are applied in a worktree of HEAD under target/mutants/tree with its own build
# directory, kept between runs so that only the first run builds from cold. One mutant at a
# time: the tests use both cores of a 2-core machine. Not in CI: every mutant takes hours.
# Needs cargo-mutants and cargo-nextest (`cargo install cargo-mutants cargo-nextest`), git and
# python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

shard="${1:-0/1}"
if ! [[ "$shard" =~ ^[0-9]+/[1-9][0-9]*$ ]] || ((${shard%/*} >= ${shard#*/})); then
    sed -n '2,10p' "$0" >&2
    echo "shard must be K/N with K < N, e.g. 0/20" >&2
    exit 2
fi
out="${2:-target/mutants/${shard%/*}-of-${shard#*/}}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in cargo-mutants cargo-nextest; do
    command -v "$tool" >/dev/null || {
        echo "$tool is required: cargo install $tool" >&2
        exit 1
    }
done

stages="${MUTANTS_STAGES:-checker units workspace}"
# The workspace stage runs the agent in a browser and the chaos tests in network namespaces:
# without what they need, they fail on every mutant, which would count as caught.
if [[ " $stages " == *" workspace "* ]]; then
    for tool in chromium chromedriver ip; do
        command -v "$tool" >/dev/null || {
            echo "the workspace stage needs $tool: apt-get install chromium chromium-driver" \
                "iproute2 (as .ci/run does), or leave it out with MUTANTS_STAGES" >&2
            exit 1
        }
    done
fi

# A clean worktree of HEAD: cargo-mutants edits it in place and restores each file after.
tree="$root/target/mutants/tree"
if [ -d "$tree" ]; then
    git -C "$tree" checkout --quiet --detach --force "$(git rev-parse HEAD)"
    git -C "$tree" clean --quiet -fdx --exclude=/target
else
    git worktree add --quiet --detach "$tree" HEAD
fi
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

# The mutants this script judges: the core and the shell, outside their broken variants.
# shellcheck disable=SC2206 # MUTANTS_ARGS is a list of options
selection=(--package swim-checked-core --package swim-checked
    --exclude 'model/core/src/faults.rs' --exclude 'impl/src/faults*.rs' ${MUTANTS_ARGS:-})

# Their names (one a line), with cargo-mutants options "$@".
list() { (cd "$tree" && cargo mutants --list "${selection[@]}" "$@"); }

# Judge the selected mutants with cargo-mutants options "$@".
mutants() {
    # cargo-mutants exits 2 when a mutant survives and 3 when one hangs: results, not errors.
    local rc=0
    (cd "$tree" && cargo mutants --in-place --baseline skip "${selection[@]}" "$@") || rc=$?
    case $rc in
    0 | 2 | 3) ;;
    *)
        echo "cargo-mutants failed (exit $rc)" >&2
        exit 1
        ;;
    esac
}

# Stage $1 over the mutants named in file $2 (the rest of the arguments are cargo-mutants'),
# leaving out those an earlier run of the stage already judged: a run cut short resumes where
# it stopped. Each run of a stage writes to OUT/STAGE.K, K counting up from 1.
stage() {
    local name=$1 todo="$out/$1.todo"
    [[ " $stages " == *" $name "* ]] || return 0
    # Only the shard's mutants (an earlier stage may have judged a few others: see below).
    python3 scripts/mutants-summary.py --untested "$out" "$name" <"$2" |
        grep -x -F -f "$out/shard.txt" >"$todo" || true
    shift 2
    # cargo-mutants 27 adds the "delete field" mutants of every file it mutates to every run
    # filtered by --re, whatever the filter says: the mutants of the files that have such
    # mutants go last, in a run of their own that leaves out the files with none to judge, and
    # the others run with all those files excluded.
    local -a odd=() rest=() idle=()
    mapfile -t odd < <(grep 'delete field' "$out/all.txt" | cut -d: -f1 | sort -u)
    for file in "${odd[@]}"; do
        rest+=(--exclude "$file")
        grep -q -F "$file:" "$todo" || idle+=(--exclude "$file")
    done
    run_stage "$name" <(grep -v -F -f <(printf '%s:\n' "${odd[@]}") "$todo") "${rest[@]}" "$@"
    run_stage "$name" <(grep -F -f <(printf '%s:\n' "${odd[@]}") "$todo") "${idle[@]}" "$@"
}

# One run of stage $1 over the mutants named in file $2.
run_stage() {
    local name=$1 k=1 mutant filters=()
    while IFS= read -r mutant; do
        # One exact-name filter per mutant (the characters regex::escape escapes).
        filters+=(--re "^$(sed -E 's/[][\\.+*?(){}|^$#&~-]/\\&/g' <<<"$mutant")\$")
    done <"$2"
    shift 2
    [ ${#filters[@]} -gt 0 ] || return 0
    while [ -e "$out/$name.$k" ]; do k=$((k + 1)); done
    mutants "${filters[@]}" --output "$out/$name.$k" "$@"
}

# The mutants a stage missed, over all its runs.
missed() { cat "$out/$1".*/mutants.out/missed.txt 2>/dev/null || true; }

# A stage may still test a few "delete field" mutants outside the shard (see stage); the
# summary counts only the shard's (OUT/shard.txt).
list >"$out/all.txt"
for name in ${MUTANTS_REJUDGE:-}; do
    python3 scripts/mutants-summary.py --forget-missed "$out" "$name"
done

# Stage 1: the checker and the conformance suite. A survivor takes 50 to 80 s (the default
# check at the test profile's opt-level, and the agent's build); a hang is cut at 5 minutes
# and counted caught. The shell's package is built (not run: the filter) so that the agent binary is too: a mutant
# that does not build there is unviable, not caught by the recordings test's own build of it.
list --shard "$shard" --sharding round-robin >"$out/shard.txt"
stage checker "$out/shard.txt" --timeout 300 \
    --test-tool nextest --test-package model --test-package conformance --test-package e2e \
    --test-package swim-checked \
    -- --run-ignored all --profile mutants \
    -E 'package(model) | package(conformance) | test(=recordings::loopback_recordings_are_model_steps)'

# Stage 2: the checker's survivors against the tests of the package they are in, stopping at
# the first failure; stage 3: what is left, against every test of the workspace as CI runs
# them (cargo test --workspace: the agent in a browser, the chaos tests in network namespaces).
stage units <(missed checker) --timeout 300 --test-tool nextest --test-workspace=false \
    -- --profile mutants
stage workspace <(missed units) --timeout 1800 --test-tool cargo --test-workspace=true

echo "shard $shard" >"$out/summary.txt"
python3 scripts/mutants-summary.py "$out" >>"$out/summary.txt"
cat "$out/summary.txt"
