#!/usr/bin/env bash
# Runs every native Go fuzz target of the repository for the given -fuzztime (a duration such as
# 5s, or an execution count such as 1000000x), one after the other, and prints a table of the
# executions each reached. Targets are found by name, so no package is built just to list them.
# New crashers land in the package's testdata/fuzz/<Target>/ and fail the run.
#
# FUZZMINIMIZETIME (default 2s) bounds how long a worker shrinks an input before reporting it. Go's
# default, 60 s, applies to every new interesting input too, and while a worker minimizes, the
# progress line shows 0 executions a second: a large seed's first mutation with new coverage
# (FuzzAgentBatchHandler's aws-samples batch) spent a whole 30 s run that way and looked like a
# hang. A crasher is still written when minimizing stops early, only less small.
# FUZZFILTER (an extended regular expression, default all) picks targets by "package target", e.g.
# FUZZFILTER='receiver|FuzzParse$'; FUZZPARALLEL sets the fuzzing workers (go test -parallel,
# default GOMAXPROCS).
# FUZZTMPDIR (default /dev/shm where it is writable) is the TMPDIR of the fuzzing runs: targets that
# write files per input (FuzzExtractLayer unpacks a zip into a fresh t.TempDir each call) ran about
# 40 inputs a second on this machine's disk-backed /tmp and 2,700 on tmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:?usage: scripts/fuzz-all.sh FUZZTIME (e.g. 5s or 1000000x)}
go=${GO:-go}
minimize=${FUZZMINIMIZETIME:-2s}
filter=${FUZZFILTER:-.}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then parallel=(-parallel "$FUZZPARALLEL"); fi
fuzztmp=${FUZZTMPDIR:-}
if [ -z "$fuzztmp" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then fuzztmp=/dev/shm; fi
if [ -n "$fuzztmp" ]; then export TMPDIR="$fuzztmp"; fi
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
  dir=$(dirname "$f")
  for t in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    if ! printf '%s %s\n' "$dir" "$t" | grep -Eq -- "$filter"; then
      continue
    fi
    echo "fuzz $dir $t ($fuzztime)"
    log=$(mktemp)
    corpus="$dir/testdata/fuzz/$t"
    for try in 1 2; do
      before=$(ls "$corpus" 2>/dev/null | sort || true)
      if "$go" test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" ${parallel[@]+"${parallel[@]}"} "./$dir" 2>&1 | tee "$log"; then
        break
      fi
      after=$(ls "$corpus" 2>/dev/null | sort || true)
      # Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a failure when a
      # worker starved by a busy machine is still mid-call at the end (go.dev/issue/75804, fixed
      # in Go 1.27): "context deadline exceeded" and no failing input written. That is not a
      # finding, so the target runs once more; a real finding writes its input under
      # testdata/fuzz and fails at once.
      if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$log" && [ "$try" = 1 ]; then
        echo "fuzz $dir $t: the coordinator's deadline race (go.dev/issue/75804), no input written; running it again" >&2
        continue
      fi
      rm -f "$log"
      echo "FAIL: $dir $t" >&2
      exit 1
    done
    # The fuzzer's last progress line carries the total: "execs: N (…/sec)".
    execs=$( (grep -o 'execs: [0-9]*' "$log" || true) | tail -1 | sed 's/execs: //')
    printf '%s\t%s\t%s\n' "$dir" "$t" "${execs:-?}" >>"$summary"
    rm -f "$log"
  done
done
echo
printf 'package\ttarget\texecs\n'
cat "$summary"
