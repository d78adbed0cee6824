#!/usr/bin/env python3
"""Summary of a scripts/mutants.sh run: the two scores and every survivor.

    scripts/mutants-summary.py OUT
    scripts/mutants-summary.py --untested OUT STAGE < NAMES
    scripts/mutants-summary.py --forget-missed OUT STAGE

OUT is the run's output directory: each run of a stage is a cargo-mutants output directory
OUT/STAGE.K (stages checker, units and workspace; K from 1). Works on a run cut short too: a
mutant that has not been through every stage it needs is listed as such, and the whole-suite
score is then a floor. With --untested, prints the mutant names read from standard input
that no run of STAGE has judged yet (how mutants.sh resumes). With --forget-missed, removes
from OUT the verdicts of STAGE's runs on the mutants it did not catch, so that the next run of
mutants.sh judges them again (MUTANTS_REJUDGE: after that stage's tests got stronger).
"""
import json
import math
import glob
import os
import sys

# A hang cut at the timeout is caught: no test passed with the mutant in.
CAUGHT = ("CaughtMutant", "Timeout")


def outcomes(out, stage):
    """Every mutant judged by a run of `stage`, by name; a later run's verdict wins."""
    result = {}
    runs = glob.glob(os.path.join(out, f"{stage}.*", "mutants.out", "outcomes.json"))
    for path in sorted(runs, key=lambda p: int(p.split(os.sep)[-3].rsplit(".", 1)[1])):
        for o in json.load(open(path)).get("outcomes", []):
            scenario = o.get("scenario")
            if isinstance(scenario, dict) and "Mutant" in scenario:
                m = scenario["Mutant"]
                line = (m.get("span") or {}).get("start", {}).get("line", "?")
                name = m.get("name") or f"{m.get('file', '?')}:{line}: {m.get('replacement', '')}"
                result[name] = o.get("summary", "?")
    return result


def forget_missed(out, stage):
    """Drop STAGE's verdicts other than caught and unviable; prints how many."""
    forgotten = 0
    for path in glob.glob(os.path.join(out, f"{stage}.*", "mutants.out", "outcomes.json")):
        runs = json.load(open(path))
        kept = []
        for o in runs.get("outcomes", []):
            judged = isinstance(o.get("scenario"), dict) and "Mutant" in o["scenario"]
            if judged and o.get("summary") not in CAUGHT + ("Unviable",):
                forgotten += 1
            else:
                kept.append(o)
        runs["outcomes"] = kept
        with open(path + ".new", "w") as f:
            json.dump(runs, f)
        os.replace(path + ".new", path)
    print(f"{stage}: {forgotten} verdicts of mutants it missed forgotten, to be judged again")


def score(k, n):
    """k of n, with the 95% Wilson interval: a shard is a sample of every mutant."""
    if not n:
        return "n/a"
    z = 1.96
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{k} of {n} ({100 * p:.1f}%; 95% interval {100 * (mid - half):.1f}-{100 * (mid + half):.1f}%)"


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--forget-missed":
        forget_missed(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--untested":
        judged = outcomes(sys.argv[2], sys.argv[3])
        for name in sys.stdin.read().splitlines():
            if name and name not in judged:
                print(name)
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    checker = outcomes(out, "checker")
    if not checker:
        sys.exit(f"no outcomes in {out}/checker.*: cargo-mutants did not run")
    # cargo-mutants 27 tests its "delete field" mutants whatever --re says: keep to the shard.
    listed = os.path.join(out, "shard.txt")
    if os.path.exists(listed):
        shard = set(open(listed).read().splitlines())
        checker = {n: s for n, s in checker.items() if n in shard}
    units, workspace = outcomes(out, "units"), outcomes(out, "workspace")
    # A stage builds only what its tests need, so a mutant that builds there may not build
    # for a later stage: unviable is unviable anywhere.
    unviable = {n for stage in (checker, units, workspace) for n, s in stage.items() if s == "Unviable"}
    viable = [n for n in checker if n not in unviable]
    by_checker = {n for n in viable if checker[n] in CAUGHT}
    later = {n for n in viable if units.get(n) in CAUGHT or workspace.get(n) in CAUGHT}
    by_suite = by_checker | later
    left = sorted(n for n in viable if n not in by_suite)
    survivors = [n for n in left if n in workspace]
    unfinished = [n for n in left if n not in workspace]

    print(f"{len(checker)} mutants judged, {len(checker) - len(viable)} unviable (they do not build)")
    print(f"caught by the checker and the conformance suite alone: {score(len(by_checker), len(viable))}")
    print(f"caught by the whole suite: {score(len(by_suite), len(viable))}")
    if unfinished:
        print(f"{len(unfinished)} not through every stage yet: the whole-suite figure is a floor")
    print("caught only outside the checker:")
    for n in sorted(later - by_checker):
        print(f"  {n}")
    print("survivors of every stage (explain each in docs/checker.md, or kill it with a test):")
    for n in survivors:
        print(f"  {n}")
    if unfinished:
        print("not through every stage (the run was cut short):")
        for n in unfinished:
            print(f"  {n}")


main()
