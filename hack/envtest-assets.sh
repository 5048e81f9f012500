#!/usr/bin/env bash
# Builds the control-plane binaries that envtest (and later the local cluster) run, from source, into a
# git-ignored, version-keyed directory under bin/. A second run finds them and returns at once.
# The last line printed is the directory to use as KUBEBUILDER_ASSETS.
#
# Usage: hack/envtest-assets.sh [component...]   (default: kube-apiserver etcd)
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/bin/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"
mkdir -p "$dir"

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver etcd)

# The version ldflags make the binaries report v1.37.2 instead of v0.0.0, which kubectl cannot parse.
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"

for c in "${components[@]}"; do
  [ -x "$dir/$c" ] && continue
  echo "Building $c (first run only; kube-* take several minutes on 2 cores)" >&2
  case "$c" in
    etcd)
      (cd "$root/hack/tools/etcd" && go build -trimpath -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3) ;;
    kube-apiserver|kube-controller-manager|kube-scheduler)
      (cd "$root/hack/tools/k8s" && go build -trimpath -ldflags "$ldflags" -o "$dir/$c.tmp" "k8s.io/kubernetes/cmd/$c") ;;
    *) echo "unknown component $c" >&2; exit 2 ;;
  esac
  mv "$dir/$c.tmp" "$dir/$c"
done
echo "$dir"
