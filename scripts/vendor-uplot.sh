#!/usr/bin/env bash
# Vendors the uPlot charting library (MIT) into the web console's embedded assets from the npm
# registry: the pinned release's minified browser build, its stylesheet and its licence, and a
# PROVENANCE file saying where they came from. The files are committed, so building azlens needs
# neither npm nor the network; run this only to change the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${UPLOT_VERSION:-1.6.32}"
dest=internal/console/assets/vendor/uplot
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null)
tgz="$tmp/uplot-$version.tgz"
tar -xzf "$tgz" -C "$tmp"
integrity="$(npm view "uplot@$version" dist.integrity)"

mkdir -p "$dest"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$dest/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
{
  echo "uPlot $version — https://github.com/leeoniya/uPlot (MIT, see LICENSE)"
  echo "fetched by scripts/vendor-uplot.sh with: npm pack uplot@$version"
  echo "source: the npm registry, package uplot, version $version"
  echo "tarball integrity (npm): $integrity"
  echo "tarball sha256: $(sha256sum "$tgz" | cut -d' ' -f1)"
  echo "files (from package/dist/ and package/LICENSE, unmodified):"
  (cd "$dest" && sha256sum uPlot.iife.min.js uPlot.min.css LICENSE | sed 's/^/  /')
} > "$dest/PROVENANCE"
echo "vendored uPlot $version into $dest"
