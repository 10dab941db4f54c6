#!/usr/bin/env bash
# Installs what the tests need and Go cannot fetch: the real AWS CLI (front-door compatibility
# test), Prometheus/promtool (rule tests, end-to-end scrape), Chromium (web console tests) and
# docker-compose (compose file check), from Debian's packages; AWS's Node.js runtime client from
# npm (scripts/install-lambda-ric.sh). Jaeger and VictoriaLogs: scripts/build-backends.sh.
# Idempotent and quiet when everything is already there. No install leaves a system service
# enabled or running (scripts/install-prometheus.sh; the others have none).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/aws ] || need+=(awscli)  # Debian's CLI v2; an aws elsewhere on PATH may be v1
# Always run: it also undoes the package's boot-time enabling on a machine installed earlier.
scripts/install-prometheus.sh >/dev/null
# Headless Chromium for the web console and report tests (internal/console).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# AWS's Node.js runtime client for the emulator's conformance tests (cached outside the repo).
scripts/install-lambda-ric.sh >/dev/null
# docker-compose validates deploy/compose/compose.yaml (test/backends) without a Docker engine.
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing test dependencies: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
