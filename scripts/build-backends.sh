#!/usr/bin/env bash
# Builds the real observability backends the backend tests (test/backends) run against, from the Go
# module proxy, into a cache outside the repository keyed by version:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/azlens/backends/jaeger-<ver>/jaeger
#   ${XDG_CACHE_HOME:-$HOME/.cache}/azlens/backends/victoria-logs-<ver>/victoria-logs
# Each is built in a throwaway module in a temp dir, so their (large) dependency graphs never touch
# ours. A cached binary is reused as is; the cold Jaeger build is the slow one (~15 min, ~2.4 GB on two
# cores), so the builds run one after the other, never at once, at the lowest CPU priority.
#
# Usage: scripts/build-backends.sh [jaeger|victoria-logs]...   (default: both)
# Prints nothing but the binaries' paths when they are already cached.
#
# Loki, Grafana and Tempo are AGPL and deliberately not built here; VictoriaLogs (Apache-2.0) speaks
# the Loki push protocol.
set -euo pipefail

# Jaeger v2.12 is published as module version v1.75.0 (the v1 module path carries the v2 binary).
JAEGER_VERSION="${AZLENS_JAEGER_VERSION:-v1.75.0}"
VLOGS_VERSION="${AZLENS_VLOGS_VERSION:-v1.52.2}"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/azlens/backends"

# build NAME MODULE VERSION PACKAGE CGO [REPLACE...]
build() {
  local name="$1" module="$2" version="$3" pkg="$4" cgo="$5"
  shift 5
  local out="$cache/$name-$version/$name"
  if [ -x "$out" ]; then
    echo "$out"
    return
  fi
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand tmp now: it is local
  trap "rm -rf '$tmp'" RETURN
  echo "building $name $version (cached afterwards in $out)" >&2
  (
    cd "$tmp"
    go mod init azlens.local/build-"$name" >/dev/null 2>&1
    for r in "$@"; do
      go mod edit -replace "$r"
    done
    # `go get` of the package (not just the module) records everything that package needs.
    go get "$module/$pkg@$version" >&2
    mkdir -p "$(dirname "$out")"
    CGO_ENABLED="$cgo" GOFLAGS="-mod=mod -buildvcs=false" nice -n 19 \
      go build -trimpath -ldflags='-s -w' -o "$out.tmp" "$module/$pkg" >&2
    mv "$out.tmp" "$out"
  )
  echo "$out"
}

# One build at a time, whoever asks (CI, a test's TestMain, a person): a second caller waits for
# the first and then finds the binary cached.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jaeger victoria-logs)
for t in "${targets[@]}"; do
  case "$t" in
    jaeger)
      build jaeger github.com/jaegertracing/jaeger "$JAEGER_VERSION" cmd/jaeger 0 \
        'github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0'
      ;;
    victoria-logs)
      build victoria-logs github.com/VictoriaMetrics/VictoriaLogs "$VLOGS_VERSION" app/victoria-logs 1
      ;;
    *)
      echo "unknown backend $t (want jaeger or victoria-logs)" >&2
      exit 2
      ;;
  esac
done
