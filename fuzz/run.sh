#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fuzz/run.sh - runs libFuzzer targets, a few at a time, and sums them up.
#
#   fuzz/run.sh SECONDS JOBS TARGET...
#
# Runs build-fuzz/fuzz_TARGET for SECONDS each, JOBS of them at once, over its
# corpus in build-fuzz/corpus_TARGET/ (kept from run to run; new inputs go
# there) and its seeds in fuzz/corpus_TARGET/, with fuzz/TARGET.dict if there
# is one. Each run's output is in build-fuzz/TARGET.log, and what it finds in
# build-fuzz/TARGET-crash-* (or leak-, timeout-, oom-). At the end it prints,
# per target, the inputs executed and whether it crashed, and the total; it
# exits 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."

if (($# < 3)); then
    echo "usage: fuzz/run.sh SECONDS JOBS TARGET..." >&2
    exit 2
fi
seconds=$1 jobs=$2
shift 2
targets=("$@")

run_one() {
    local t=$1 opts=()
    [[ -f fuzz/$t.dict ]] && opts+=(-dict="fuzz/$t.dict")
    mkdir -p "build-fuzz/corpus_$t"
    rm -f "build-fuzz/$t-"{crash,leak,timeout,oom,slow-unit}-*
    build-fuzz/fuzz_"$t" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="build-fuzz/$t-" "${opts[@]}" \
        "build-fuzz/corpus_$t" "fuzz/corpus_$t" >"build-fuzz/$t.log" 2>&1
    echo $? >"build-fuzz/$t.rc"
}

# Targets that need files make them under TMPDIR: in memory when it can be,
# and removed at the end even if a target crashed and could not clean up.
TMPDIR=$(mktemp -d /dev/shm/htd-fuzz.XXXXXX 2>/dev/null || mktemp -d)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

echo "fuzz: ${targets[*]}: ${seconds} s each, $jobs at a time (logs in build-fuzz/TARGET.log)"
for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do
        wait -n
    done
    run_one "$t" &
done
wait

# The inputs a run executed: libFuzzer's final stat, or its last status line
# ("#N ...") when it stopped before printing stats.
executions() {
    local n
    n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$1" | tail -1)
    [[ -n $n ]] || n=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$1" | tail -1)
    echo "${n:-0}"
}

total=0 failed=0
printf '%-10s %15s  %s\n' target executions result
for t in "${targets[@]}"; do
    n=$(executions "build-fuzz/$t.log")
    rc=$(cat "build-fuzz/$t.rc" 2>/dev/null || echo 1)
    artifacts=$(ls "build-fuzz/$t-"{crash,leak,timeout,oom}-* 2>/dev/null | tr '\n' ' ')
    if [[ $rc == 0 && -z $artifacts ]]; then
        result=ok
    else
        result="FAILED (exit $rc) ${artifacts:-see build-fuzz/$t.log}"
        failed=1
    fi
    total=$((total + n))
    printf '%-10s %15s  %s\n' "$t" "$n" "$result"
done
printf '%-10s %15s\n' total "$total"

if ((failed)); then
    for t in "${targets[@]}"; do
        [[ $(cat "build-fuzz/$t.rc" 2>/dev/null) == 0 ]] && continue
        echo "---- build-fuzz/$t.log (end)"
        grep -v '^#[0-9]' "build-fuzz/$t.log" | tail -40
    done
    exit 1
fi
