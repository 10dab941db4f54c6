#!/usr/bin/env bash
# Installs AWS's Node.js runtime interface client (npm aws-lambda-ric) for the emulator's
# conformance tests, outside the repository and keyed by version so CI builds it once:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/azlens/npm/aws-lambda-ric-$VERSION/node_modules/.bin/aws-lambda-ric
# 3.3.0 is the newest release that runs on Node 20 (4.x needs Node >= 22). Its native addon is
# built from source, which needs cmake, autoconf, automake, libtool and g++ (Debian packages).
# Prints the install directory on stdout. Idempotent and quiet when already installed.
set -euo pipefail

VERSION="${AZLENS_LAMBDA_RIC_VERSION:-3.3.0}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/azlens/npm/aws-lambda-ric-$VERSION"
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
# One build at a time (parallel test packages may all ask): the others wait, then find it done.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

command -v node >/dev/null 2>&1 || { echo "install-lambda-ric: node is not installed" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "install-lambda-ric: npm is not installed" >&2; exit 1; }

need=()
for tool in cmake autoconf automake libtoolize g++ make; do
  command -v "$tool" >/dev/null 2>&1 && continue
  case "$tool" in
    libtoolize) need+=(libtool) ;;
    *) need+=("$tool") ;;
  esac
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-lambda-ric: installing build tools: ${need[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

echo "install-lambda-ric: building aws-lambda-ric $VERSION into $dir (a few minutes, once)" >&2
rm -rf "$dir"
mkdir -p "$dir"
(cd "$dir" && echo '{"private":true}' >package.json &&
  npm install --no-audit --no-fund --loglevel=error "aws-lambda-ric@$VERSION" >&2)
touch "$dir/.complete"
echo "$dir"
