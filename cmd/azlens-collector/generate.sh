#!/bin/sh
# Regenerates cmd/azlens-collector from builder-config.yaml with the pinned
# OpenTelemetry Collector Builder (internal/tools) and builds
# bin/azlens-collector. The builder writes a standalone module; only its Go
# files are kept, because the distribution is built inside the main module
# (go.mod at the repository root pins every component's version).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#output_path: .*#output_path: $tmp#" builder-config.yaml > "$tmp/builder-config.yaml"
(cd internal/tools && go tool builder --config "$tmp/builder-config.yaml" --skip-compilation --skip-get-modules)
for f in main.go main_others.go main_windows.go components.go; do
	cp "$tmp/$f" "cmd/azlens-collector/$f"
done
gofmt -w cmd/azlens-collector
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/azlens-collector ./cmd/azlens-collector
echo "built bin/azlens-collector"
