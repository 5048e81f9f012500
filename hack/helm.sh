#!/usr/bin/env bash
# Builds helm from its Go module (hack/tools/helm pins the version and every dependency) into a git-ignored,
# version-keyed binary under bin/. A second run finds it and returns at once.
# The last line printed is the path of the binary. `make helm`, `make test-chart` and the chart tests use it.
#
# Usage: hack/helm.sh
set -euo pipefail

HELM_VERSION=v3.22.0
# The Kubernetes minor helm assumes for `helm template` and `helm lint` without a cluster: the k8s.io modules
# hack/tools/helm/go.mod requires (v0.37.x), as helm's own Makefile sets it. Unset, helm would assume v1.20.
K8S_MINOR=37
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/helm-${HELM_VERSION}"

if [ ! -x "$bin" ]; then
  echo "Building helm ${HELM_VERSION} (first run only, a minute or two on 2 cores)" >&2
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${K8S_MINOR} \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${K8S_MINOR}"
  # Built beside the final path and renamed into place, so a concurrent run never finds a half-written binary.
  (cd "$root/hack/tools/helm" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin.tmp.$$" helm.sh/helm/v3/cmd/helm)
  mv -f "$bin.tmp.$$" "$bin"
fi
echo "$bin"
