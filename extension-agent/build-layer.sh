#!/bin/sh
# Builds azlens-agent for Lambda (static, stripped) and packs one layer zip per architecture:
#   dist/azlens-agent-layer-amd64.zip, dist/azlens-agent-layer-arm64.zip
# each holding extensions/azlens-agent (executable). Run from anywhere; `make layer` calls it.
# Publish with: aws lambda publish-layer-version --layer-name azlens-agent-<arch> \
#   --zip-file fileb://dist/azlens-agent-layer-<arch>.zip --compatible-architectures <x86_64|arm64>
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dist=${DIST:-dist}
version=${AZLENS_VERSION:-0.1.0}
# ARCHS narrows the build (tests build only the host's architecture).
for arch in ${ARCHS:-amd64 arm64}; do
	out="$dist/$arch/azlens-agent"
	# No net/http HTTP/2: part of the agent's memory budget (internal/testbin's AgentFlags say why).
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -tags nethttpomithttp2 \
		-ldflags "-s -w -X github.com/azlens/azlens/extension-agent/agent.Version=$version" \
		-o "$out" ./extension-agent/cmd/azlens-agent
	size=$(wc -c <"$out")
	if [ "$size" -gt 8388608 ]; then
		echo "build-layer: $out is $size bytes, above the 8 MiB budget" >&2
		exit 1
	fi
	go run ./extension-agent/internal/mklayer -o "$dist/azlens-agent-layer-$arch.zip" "$out"
	echo "$dist/azlens-agent-layer-$arch.zip ($size-byte binary)"
done
