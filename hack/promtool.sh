#!/usr/bin/env bash
# Builds promtool from source (module hack/tools/prometheus) into a git-ignored, version-keyed path under bin/.
# A second run finds it and returns at once. The last line printed is the binary's path.
#
# The build tag remove_all_sd leaves out the service-discovery plugins (AWS, Azure, GCE, Consul, ...), which
# promtool needs only for `promtool check service-discovery`; checking and unit-testing rules does not use them.
#
# Prometheus v0.316.0 needs Go 1.26.7 or later (its go.mod says so); an older go fetches that toolchain through
# the module proxy (GOTOOLCHAIN=auto).
#
# Usage: hack/promtool.sh
set -euo pipefail

PROMETHEUS_VERSION=v0.316.0
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bin/promtool-${PROMETHEUS_VERSION}"
mkdir -p "$root/bin"

if [ ! -x "$out" ]; then
  echo "Building promtool ${PROMETHEUS_VERSION} (first run only; a few minutes on 2 cores)" >&2
  (cd "$root/hack/tools/prometheus" && go build -trimpath -tags remove_all_sd -ldflags "-s -w" \
    -o "$out.tmp" github.com/prometheus/prometheus/cmd/promtool)
  mv "$out.tmp" "$out"
fi
echo "$out"
