#!/usr/bin/env bash
# What `make demo` runs: a local API server (etcd + kube-apiserver, no nodes), the operator running against it,
# the two sample RotatedSecrets, one forced rotation, and a report of what changed. Everything it starts is
# stopped at the end, on success, failure or Ctrl-C. Secret values are never printed: only key names,
# revisions and keyed fingerprints.
#
# Usage: bash hack/demo.sh    (first run builds kube-apiserver and etcd from source: several minutes)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ns=backend                          # where the samples live
operator_ns=secret-rotator-system   # where the operator keeps its fingerprint key
wait_timeout=60                     # seconds for each wait on the operator

tmp=$(mktemp -d "${TMPDIR:-/tmp}/secret-rotator-demo.XXXXXX")
cp_pid=""
mgr_pid=""

# Formatting: bold section headers on a terminal, plain text otherwise.
if [ -t 1 ]; then bold=$'\033[1m' reset=$'\033[0m'; else bold="" reset=""; fi
section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$reset"; }
info() { printf '   %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# alive is true while the process runs; an exited child that was not waited for yet (a zombie) counts as gone.
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

# stop_pid sends SIGTERM to one process this script started and waits for it, up to 30s, before SIGKILL.
stop_pid() {
  local name=$1 pid=$2 i
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    info "Stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
      alive "$pid" || break
      sleep 0.2
    done
    if alive "$pid"; then
      # The control plane's etcd and kube-apiserver may outlive a SIGKILL; say so rather than hide it.
      info "$name did not stop within 30s; killing it (check for stray etcd/kube-apiserver processes)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# cleanup runs on every exit: manager first (so it does not log errors about a vanished API server), then the
# control plane, then the temporary directory. On failure it shows the end of both logs first.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ]; then
    for log in manager.log controlplane.log; do
      if [ -s "$tmp/$log" ]; then
        section "Last lines of $log"
        tail -n 30 "$tmp/$log"
      fi
    done
  fi
  section "Cleaning up"
  stop_pid manager "$mgr_pid"
  stop_pid "control plane" "$cp_pid"
  rm -rf "$tmp"
  info "Removed $tmp"
  if [ "$rc" -eq 0 ]; then info "Demo finished"; else info "Demo FAILED (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# field prints one status field of a RotatedSecret (jsonpath, e.g. .status.currentRevision).
field() { kubectl get rotsec "$1" -n "$ns" -o jsonpath="{$2}"; }

# secret_keys prints the data keys of a Secret, one a line, sorted. Never the values.
secret_keys() {
  # shellcheck disable=SC2016 # $k and $v are go-template variables, not shell ones
  kubectl get secret "$1" -n "$ns" -o go-template='{{range $k, $v := .data}}{{$k}}{{"\n"}}{{end}}'
}

command -v kubectl >/dev/null || die "kubectl not found in PATH"

section "Building"
info "Control-plane binaries (hack/envtest-assets.sh)"
assets=$(bash hack/envtest-assets.sh | tail -n 1)
[[ -x $assets/kube-apiserver && -x $assets/etcd ]] || die "no kube-apiserver/etcd in '$assets'"
info "bin/manager"
go build -o bin/manager ./cmd/manager
info "bin/controlplane"
go build -o bin/controlplane ./hack/controlplane

section "Starting a local API server (etcd + kube-apiserver on 127.0.0.1)"
# TMPDIR keeps envtest's certificates and etcd data inside $tmp, so they go with it.
KUBEBUILDER_ASSETS="$assets" TMPDIR="$tmp" bin/controlplane \
  --crd-dir "$root/config/crd/bases" --kubeconfig-out "$tmp/kubeconfig" \
  >"$tmp/controlplane.out" 2>"$tmp/controlplane.log" &
cp_pid=$!
info "Control plane pid $cp_pid, log in $tmp/controlplane.log"
kubeconfig=""
for ((i = 0; i < 180; i++)); do
  kubeconfig=$(sed -n 's/^KUBECONFIG=//p' "$tmp/controlplane.out")
  [ -z "$kubeconfig" ] || break
  alive "$cp_pid" || die "the control plane exited during start-up"
  sleep 1
done
[ -n "$kubeconfig" ] || die "the control plane did not become ready within 180s"
# Every kubectl below talks to the throwaway API server, never to the user's current context.
export KUBECONFIG="$kubeconfig"
info "Ready; CRD installed: $(kubectl get crd -o name | tr '\n' ' ')"

section "Creating namespaces $operator_ns and $ns"
kubectl create namespace "$operator_ns"
kubectl create namespace "$ns"

section "Starting the operator"
POD_NAMESPACE="$operator_ns" bin/manager --kubeconfig "$kubeconfig" \
  --metrics-bind-address=0 --health-probe-bind-address=0 >"$tmp/manager.log" 2>&1 &
mgr_pid=$!
info "Manager pid $mgr_pid, log in $tmp/manager.log"

section "Applying config/samples"
# -k, not -f: config/samples holds a kustomization.yaml, which `kubectl apply -f <dir>` would try to create.
kubectl apply -k config/samples/
info "Waiting for both RotatedSecrets to be Ready (up to ${wait_timeout}s)"
kubectl wait --for=condition=Ready rotsec --all -n "$ns" --timeout="${wait_timeout}s"
alive "$mgr_pid" || die "the manager exited"

section "kubectl get rotsec -n $ns"
kubectl get rotsec -n "$ns"
section "kubectl get rotsec -n $ns -o wide"
kubectl get rotsec -n "$ns" -o wide

section "Keys of Secret $ns/backend-env (values are not shown)"
secret_keys backend-env | sed 's/^/   /'

jwt_rev_before=$(field jwt-secret .status.currentRevision)
jwt_fp_before=$(field jwt-secret .status.currentFingerprint)
cookie_rev_before=$(field cookie-secret .status.currentRevision)
cookie_fp_before=$(field cookie-secret .status.currentFingerprint)
section "Revisions and fingerprints"
info "jwt-secret     revision $jwt_rev_before  fingerprint $jwt_fp_before"
info "cookie-secret  revision $cookie_rev_before  fingerprint $cookie_fp_before"
[[ -n $jwt_rev_before && -n $jwt_fp_before ]] || die "jwt-secret is Ready but has no revision or fingerprint"

section "Forcing a rotation of jwt-secret"
token="demo-$(date +%s)"
kubectl annotate rotsec jwt-secret -n "$ns" rotation.tribi.io/rotate="$token" --overwrite
want=$((jwt_rev_before + 1))
info "Waiting for jwt-secret to reach revision $want (up to ${wait_timeout}s)"
for ((i = 0; i < wait_timeout; i++)); do
  [ "$(field jwt-secret .status.currentRevision)" = "$want" ] && break
  sleep 1
done
[ "$(field jwt-secret .status.currentRevision)" = "$want" ] || die "jwt-secret did not reach revision $want"
kubectl wait --for=condition=Ready rotsec/jwt-secret -n "$ns" --timeout="${wait_timeout}s"

section "What changed"
jwt_rev_after=$(field jwt-secret .status.currentRevision)
jwt_fp_after=$(field jwt-secret .status.currentFingerprint)
cookie_rev_after=$(field cookie-secret .status.currentRevision)
cookie_fp_after=$(field cookie-secret .status.currentFingerprint)
info "jwt-secret     revision $jwt_rev_before -> $jwt_rev_after  fingerprint $jwt_fp_before -> $jwt_fp_after"
info "cookie-secret  revision $cookie_rev_before -> $cookie_rev_after  fingerprint $cookie_fp_before -> $cookie_fp_after"
[ "$jwt_fp_after" != "$jwt_fp_before" ] || die "jwt-secret's fingerprint did not change"
if [ "$cookie_rev_after" != "$cookie_rev_before" ] || [ "$cookie_fp_after" != "$cookie_fp_before" ]; then
  die "cookie-secret changed, but only jwt-secret was asked to rotate"
fi
info "cookie-secret is unchanged, as it should be"
keys=$(secret_keys backend-env)
grep -qx JWT_SECRET_PREVIOUS <<<"$keys" || die "backend-env has no JWT_SECRET_PREVIOUS key after the rotation"
info "backend-env now has JWT_SECRET_PREVIOUS (the old value, kept for the 24h grace period)"
info "Keys of backend-env: $(tr '\n' ' ' <<<"$keys")"

section "Events of jwt-secret (kubectl describe rotsec jwt-secret -n $ns)"
kubectl describe rotsec jwt-secret -n "$ns" | sed -n '/^Events:/,$p'
