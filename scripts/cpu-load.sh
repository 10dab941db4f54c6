#!/usr/bin/env bash
# Keeps N CPUs busy (default: all) until it is killed or the command given after -- exits:
#   scripts/cpu-load.sh 2 -- make test
# runs the suite on a machine loaded as a shared CI runner or a developer's laptop is, the way
# `make test-loaded` does. The busy loops run at normal priority, so they compete with the tests.
set -euo pipefail
n=${1:-$(nproc)}
shift || true
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq "$n"); do
  (while :; do :; done) &
  pids+=($!)
done
if [ "${1:-}" = "--" ]; then
  shift
  "$@"
else
  wait
fi
