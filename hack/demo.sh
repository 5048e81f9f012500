#!/usr/bin/env bash
# What `make demo` runs: a local cluster (hack/local-cluster.sh: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok simulated nodes, so Deployments really roll and Jobs really run), the operator against
# it, and the sample backend of hack/demo/: Deployments esim-worker and backend-api reading Secret backend-env, and
# the JWT_SECRET and COOKIE_SECRET RotatedSecrets with a staged rollout (workers, then the API) and a smoke Job, and
# their staging twins in namespace backend-staging. Notifications go to a local webhook receiver
# (hack/webhook-receiver), which logs each delivery. Then two forced rotations of jwt-secret: one that succeeds,
# and one whose smoke Job fails and that is rolled back; then one of cookie-secret that gives notice and waits for
# its staging twin to rotate and stay Ready (the demo cuts the samples' 10m notice and 1h soak to 1m each, so this
# one takes about a minute). Last, an emergency during a running rotation (hack/demo/emergency.sh): a forced
# rotation of jwt-secret is discarded while its workers restart, it and the revision in service are compromised,
# JWT_SECRET_PREVIOUS leaves backend-env and RATE_LIMIT_CODES_PER_DAY drops to 2 in ConfigMap backend-config before
# the first restart, then rollout, smoke Job, commit and a purge Job; the override (1m in the demo) is reverted
# and the stages restart. For each it prints a timeline from the operator's Events and status (for the emergency,
# also its incident record).
#
# Everything it starts is stopped at the end (operator, webhook receiver, then the cluster), on success, failure
# or Ctrl-C. Secret values are never printed: only key names, revisions and keyed fingerprints.
#
# Usage: bash hack/demo.sh    (the first run builds the Kubernetes components, etcd and kwok: several minutes)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Formatting, the operator's state, waits, fingerprints and timelines; act 4.
# shellcheck source=hack/demo/lib.sh
source hack/demo/lib.sh
# shellcheck source=hack/demo/emergency.sh
source hack/demo/emergency.sh

ns=backend                          # where the sample backend lives
staging_ns=backend-staging          # where the staging twins of its RotatedSecrets live
operator_ns=secret-rotator-system   # where the operator keeps its fingerprint key
wait_timeout=120                    # seconds for each wait on the operator
fail_label=pod-container-running-failed.stage.kwok.x-k8s.io # kwok fails a pod with this label 1-2s after it runs

tmp=$(mktemp -d "${TMPDIR:-/tmp}/secret-rotator-demo.XXXXXX")
cluster_dir="$tmp/cluster"
cluster_started=""
mgr_pid=""
receiver_pid=""
start_seconds=$SECONDS

# cleanup runs on every exit: the operator first (so it does not log errors about a vanished API server), then
# the cluster (`down` stops only the pids recorded in our cluster directory), then the temporary directory. On
# failure it shows the end of the logs first.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ]; then
    for log in "$tmp/manager.log" "$tmp/webhooks.log" "$tmp/cluster-up.log"; do
      if [ -s "$log" ]; then
        section "Last lines of ${log#"$tmp/"}"
        tail -n 30 "$log"
      fi
    done
  fi
  section "Cleaning up"
  stop_pid "backend-env watch" "$watch_pid"
  stop_pid operator "$mgr_pid"
  stop_pid "webhook receiver" "$receiver_pid"
  if [ -n "$cluster_started" ]; then
    info "Stopping the local cluster (hack/local-cluster.sh down)"
    if ! LOCAL_CLUSTER_DIR="$cluster_dir" bash hack/local-cluster.sh down >"$tmp/cluster-down.log" 2>&1; then
      indent <"$tmp/cluster-down.log"
      info "hack/local-cluster.sh down failed; check for stray etcd, kube-* or kwok processes naming $cluster_dir"
      [ "$rc" -ne 0 ] || rc=1
    fi
  fi
  rm -rf "$tmp"
  info "Removed $tmp"
  if [ "$rc" -eq 0 ]; then
    info "Demo finished in $((SECONDS - start_seconds))s"
  elif [ "$rc" -eq 130 ]; then
    info "Demo interrupted"
  else
    info "Demo FAILED (exit $rc)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


command -v kubectl >/dev/null || die "kubectl not found in PATH"
command -v python3 >/dev/null || die "python3 not found in PATH"

section "Building"
info "bin/manager, bin/kubectl-rotation (the kubectl plugin: bin/ goes first on PATH), bin/webhook-receiver"
go build -buildvcs=auto -o bin/ ./cmd/manager ./cmd/kubectl-rotation ./hack/webhook-receiver
export PATH="$PWD/bin:$PATH"
{ kubectl rotation version; bin/manager --version; } | indent

section "Starting a local cluster (hack/local-cluster.sh up)"
info "etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1; state in $cluster_dir"
info "The first run builds them from source into bin/ (several minutes); later runs reuse them"
cluster_started=1
# Progress (stderr) goes to a log and only the build lines and the summary are shown; the last stdout line is
# KUBECONFIG=<path>. pipefail makes a failed `up` fail the demo.
LOCAL_CLUSTER_DIR="$cluster_dir" bash hack/local-cluster.sh up 2>&1 >"$tmp/cluster-up.out" | tee "$tmp/cluster-up.log" |
  { grep --line-buffered -E 'Building|Cluster up|error' || true; } | indent
kubeconfig=$(sed -n 's/^KUBECONFIG=//p' "$tmp/cluster-up.out" | tail -n 1)
[ -n "$kubeconfig" ] || die "hack/local-cluster.sh up printed no KUBECONFIG"
# Every kubectl below talks to the throwaway cluster, never to the user's current context.
export KUBECONFIG="$kubeconfig"
info "Nodes: $(kubectl get nodes -o name | paste -sd ' ')"

section "Starting the webhook receiver (hack/webhook-receiver)"
bin/webhook-receiver -addr 127.0.0.1:0 -url-file "$tmp/receiver.url" >"$tmp/webhooks.log" 2>&1 &
receiver_pid=$!
for ((i = 0; i < 50; i++)); do
  [ -s "$tmp/receiver.url" ] && break
  alive "$receiver_pid" || die "the webhook receiver exited: $(cat "$tmp/webhooks.log")"
  sleep 0.1
done
[ -s "$tmp/receiver.url" ] || die "the webhook receiver wrote no URL within 5s"
receiver_url=$(<"$tmp/receiver.url")
receiver_addr=${receiver_url#http://}
info "Receiver pid $receiver_pid on ${receiver_addr%%/*}, log in $tmp/webhooks.log"
info "It answers 204 and logs each delivery's id, event, RotatedSecret and revision, never a body"

section "Installing the CRD and starting the operator"
kubectl apply --server-side -f config/crd/bases/ | indent
kwait --for condition=Established crd/rotatedsecrets.rotation.tribi.io --timeout=60s >/dev/null
kubectl create namespace "$operator_ns" >/dev/null
# As config/default: each RotatedSecret acts as the ServiceAccount secret-rotator of its namespace (config/tenant).
# Production's RotatedSecrets depend on their twins in backend-staging, which needs cross-namespace references;
# notifications may go to the receiver on 127.0.0.1 (plain http is allowed to a loopback address only).
POD_NAMESPACE="$operator_ns" bin/manager --metrics-bind-address=0 --health-probe-bind-address=0 \
  --default-service-account=secret-rotator --no-cross-namespace-refs=false --http-allowed-hosts=127.0.0.1 \
  >"$tmp/manager.log" 2>&1 &
mgr_pid=$!
info "Operator pid $mgr_pid, log in $tmp/manager.log"
info "Flags: --default-service-account=secret-rotator --no-cross-namespace-refs=false --http-allowed-hosts=127.0.0.1"

section "Applying the sample backend (kubectl apply -k hack/demo)"
# The webhook Secret the RotatedSecrets name (spec.notify) exists before them, so even their first rotation is
# delivered at once. Its value, the receiver's URL, is not shown: a real webhook URL is a credential.
kubectl apply -f hack/demo/namespace.yaml | indent
for n in "$ns" "$staging_ns"; do
  kubectl create secret generic rotation-hooks -n "$n" --from-literal=url="$receiver_url" >/dev/null
done
info "secret/rotation-hooks created in $ns and $staging_ns (key url: the receiver's URL)"
# hack/demo adds a rollout (workers, then api) and a smoke Job to the production RotatedSecrets of config/samples,
# and shortens their notice and soak for the demo.
kubectl apply -k hack/demo | grep -v '^namespace/' | indent
info "Waiting for all four RotatedSecrets to be Ready: their first value is written; in $ns, both stages rolled"
info "and smoke passed"
for n in "$ns" "$staging_ns"; do
  kwait --for=condition=Ready rotsec --all -n "$n" --timeout="${wait_timeout}s" | sed "s/\$/ (in $n)/" | indent
done
kubectl rollout status deployment/esim-worker deployment/backend-api -n "$ns" --timeout=60s >/dev/null
alive "$mgr_pid" || die "the operator exited"
kubectl get rotsec -A -o wide | indent
info ""
info "Keys of Secret $ns/backend-env with the keyed fingerprint of each value (values are never shown):"
target_fingerprints COOKIE_SECRET JWT_SECRET | indent
info ""
info "Restart annotations (pod template of each Deployment, and each running pod):"
show_workloads

# --- 1. A forced rotation that succeeds ---------------------------------------------------------------------
rev1=$(field jwt-secret .status.currentRevision)
fp1=$(field jwt-secret .status.currentFingerprint)
cookie_rev=$(field cookie-secret .status.currentRevision)
cookie_fp=$(field cookie-secret .status.currentFingerprint)
rev2=$((rev1 + 1))
section "1. Forced rotation of jwt-secret: revision $rev1 -> $rev2"
rotate ok "$rev2"
[ "$outcome" = Succeeded ] || die "revision $rev2 ended $outcome, not Succeeded"
fp2=$(field jwt-secret .status.currentFingerprint)
[ "$(field jwt-secret .status.currentRevision)" = "$rev2" ] || die "jwt-secret is not on revision $rev2"
[ "$fp2" != "$fp1" ] || die "jwt-secret's fingerprint did not change"
[ "$(target_fingerprint JWT_SECRET)" = "$fp2" ] || die "backend-env[JWT_SECRET] does not hold revision $rev2"
[ "$(target_fingerprint JWT_SECRET_PREVIOUS)" = "$fp1" ] || die "backend-env[JWT_SECRET_PREVIOUS] does not hold revision $rev1"
check_pods "$rev2"
info ""
info "Result: Succeeded. jwt-secret revision $rev1 -> $rev2, fingerprint $fp1 -> $fp2"
info "backend-env[JWT_SECRET]          $(target_fingerprint JWT_SECRET)  (revision $rev2, computed from the Secret)"
info "backend-env[JWT_SECRET_PREVIOUS] $(target_fingerprint JWT_SECRET_PREVIOUS)  (revision $rev1, kept for the 24h grace period)"
info "Every running pod of both Deployments carries rotation.tribi.io/jwt-secret: \"$rev2\""

# --- 2. A forced rotation whose smoke test fails: rolled back -----------------------------------------------
rev3=$((rev2 + 1))
section "2. Forced rotation of jwt-secret whose smoke Job fails: revision $rev3 is rolled back to $rev2"
info "Breaking the smoke test: kwok fails a pod labelled $fail_label=true"
info "kubectl patch rotsec jwt-secret --type=json (add that label to spec.validation.jobs[0]'s pod template)"
kubectl patch rotsec jwt-secret -n "$ns" --type=json -p "[{\"op\": \"add\",
  \"path\": \"/spec/validation/jobs/0/template/spec/template/metadata/labels/$fail_label\", \"value\": \"true\"}]" >/dev/null
rotate fail "$rev3"
# Read at once: the Stalled condition lasts only for the backoff after the failure.
state_after="phase $(field jwt-secret .status.phase), Stalled reason $(field jwt-secret '.status.conditions[?(@.type=="Stalled")].reason')"
[ "$outcome" = RolledBack ] || die "revision $rev3 ended $outcome, not RolledBack"
[ "$(field jwt-secret .status.currentRevision)" = "$rev2" ] || die "jwt-secret is not back on revision $rev2"
[ "$(field jwt-secret .status.currentFingerprint)" = "$fp2" ] || die "jwt-secret's fingerprint is not revision $rev2's"
fp3=$(field jwt-secret ".status.history[?(@.revision==$rev3)].fingerprint")
kubectl rollout status deployment/esim-worker deployment/backend-api -n "$ns" --timeout=60s >/dev/null
[ "$(target_fingerprint JWT_SECRET)" = "$fp2" ] || die "backend-env[JWT_SECRET] does not hold revision $rev2 again"
check_pods "$rev2"
info ""
info "Result: RolledBack. The failed revision $rev3 had fingerprint $fp3; it is in no target any more"
info "jwt-secret         revision $(field jwt-secret .status.currentRevision), fingerprint $(field jwt-secret .status.currentFingerprint) (as before the attempt)"
info "backend-env[JWT_SECRET]  $(target_fingerprint JWT_SECRET)  (computed from the Secret: revision $rev2's value again)"
info "Restart annotations after the rollback:"
show_workloads
if [ "$(field cookie-secret .status.currentRevision)" != "$cookie_rev" ] ||
  [ "$(field cookie-secret .status.currentFingerprint)" != "$cookie_fp" ] ||
  [ "$(target_fingerprint COOKIE_SECRET)" != "$cookie_fp" ]; then
  die "cookie-secret changed, but only jwt-secret rotated"
fi
info "cookie-secret is untouched: revision $cookie_rev, $cookie_fp"

info ""
info "Right after the rollback jwt-secret was: $state_after (for the backoff after a failure)"
kwait --for=condition=Ready rotsec/jwt-secret -n "$ns" --timeout=60s >/dev/null
info "Then Ready again on revision $(field jwt-secret .status.currentRevision); revisions in status.history:" \
  "$(field jwt-secret '.status.history[*].revision') (no new attempt started by itself)"

# --- 3. Notice, a notification, and staging first ------------------------------------------------------------
# backend/cookie-secret gives notice and depends on backend-staging/cookie-secret (config/samples), with the
# demo's notice and soak of 1m. The operator looks at dependencies once the notice has run out, so staging is
# rotated during the notice and its soak runs alongside: about a minute in all, not two.
cookie_rev2=$((cookie_rev + 1))
staging_rev=$(field cookie-secret .status.currentRevision "$staging_ns")
staging_rev2=$((staging_rev + 1))
section "3. Rotation of cookie-secret after its staging twin, with notice: revision $cookie_rev -> $cookie_rev2"
info "cookie-secret waits for $staging_ns/cookie-secret to rotate and stay Ready for $(field cookie-secret .spec.dependsOnSoak)," \
  "then gives notice $(field cookie-secret .spec.notice)"
info "(the samples' 1h and 10m, cut for the demo); every RotatedSecret notifies the webhook receiver"
since=$(now)
token="demo-notice-$(date +%s)"
info "kubectl annotate rotsec cookie-secret rotation.tribi.io/rotate=$token --overwrite"
kubectl annotate rotsec cookie-secret -n "$ns" rotation.tribi.io/rotate="$token" --overwrite >/dev/null
info "Condition RotationScheduled: $(wait_reason cookie-secret RotationScheduled WaitingForDependency)"

info ""
staging_since=$(now)
token="demo-staging-$(date +%s)"
info "The staging twin is rotated first (it gives no notice in the demo):"
info "kubectl annotate rotsec cookie-secret -n $staging_ns rotation.tribi.io/rotate=$token --overwrite"
kubectl annotate rotsec cookie-secret -n "$staging_ns" rotation.tribi.io/rotate="$token" --overwrite >/dev/null
outcome=$(wait_outcome cookie-secret "$staging_rev2" "$staging_ns")
[ "$outcome" = Succeeded ] || die "$staging_ns/cookie-secret revision $staging_rev2 ended $outcome, not Succeeded"
info "Timeline (Events of $staging_ns/cookie-secret; seconds since its annotation):"
timeline cookie-secret "$staging_since" "$staging_ns"
staging_done=$(field cookie-secret ".status.history[?(@.revision==$staging_rev2)].completionTime" "$staging_ns")
[ -z "$(field cookie-secret .status.pending.revision)" ] || die "cookie-secret started before its dependency's soak"
info "$ns/cookie-secret is still on revision $(field cookie-secret .status.currentRevision): the soak runs"

info ""
info "Once the soak has run, $ns/cookie-secret gives notice:"
info "Condition RotationScheduled: $(wait_reason cookie-secret RotationScheduled RotationNotice)"
notice_time=$(field cookie-secret .status.scheduled.noticeTime)
notice_start=$(field cookie-secret .status.scheduled.startTime)
info "status.scheduled: notice given at $notice_time, start at $notice_start"
info "Event (kubectl get events -n $ns --field-selector reason=RotationNotice):"
kubectl get events -n "$ns" --field-selector reason=RotationNotice,involvedObject.name=cookie-secret | indent
info "The webhook receiver got the Scheduled notification:"
wait_delivery Scheduled "$ns/cookie-secret" "$cookie_rev2" | indent
outcome=$(wait_outcome cookie-secret "$cookie_rev2")
[ "$outcome" = Succeeded ] || die "revision $cookie_rev2 of cookie-secret ended $outcome, not Succeeded"
started=$(field cookie-secret ".status.history[?(@.revision==$cookie_rev2)].startTime")
soak=$(field cookie-secret .spec.dependsOnSoak)
[[ $soak =~ ^[0-9]+m$ ]] || die "expected dependsOnSoak in minutes in the demo, found $soak"
soak_minutes=${soak%m}
soaked=$(date -u -d "@$(($(date -u -d "$staging_done" +%s) + soak_minutes * 60))" +%Y-%m-%dT%H:%M:%SZ)
[[ ! $notice_time < $soaked ]] || die "cookie-secret gave notice at $notice_time, before its dependency's soak ended ($soaked)"
[[ ! $started < $notice_start ]] || die "cookie-secret started at $started, before its notice ran out ($notice_start)"
if ! kubectl get events -n "$ns" --field-selector reason=WaitingForDependency,involvedObject.name=cookie-secret -o name |
  grep -q .; then
  kubectl get events -n "$ns" --field-selector involvedObject.name=cookie-secret -o wide | indent
  grep -i 'event' "$tmp/manager.log" | grep -v '"level":"info"' | tail -n 20 | indent
  die "cookie-secret has no WaitingForDependency Event (its Events and the operator's log lines about Events above)"
fi
info "Timeline (Events of $ns/cookie-secret; seconds since its annotation):"
timeline cookie-secret "$since"
for event in Started Succeeded; do
  wait_delivery "$event" "$ns/cookie-secret" "$cookie_rev2" >/dev/null
done
[ "$(target_fingerprint COOKIE_SECRET)" = "$(field cookie-secret .status.currentFingerprint)" ] ||
  die "backend-env[COOKIE_SECRET] does not hold revision $cookie_rev2"
info ""
info "Result: Succeeded. $staging_ns/cookie-secret rotated by $staging_done, Ready since, soak until $soaked"
info "Notice given at $notice_time for $notice_start"
info "$ns/cookie-secret started at $started, after both: revision $(field cookie-secret .status.currentRevision)," \
  "$(field cookie-secret .status.currentFingerprint), in backend-env[COOKIE_SECRET]"

# --- 4. An emergency during a running rotation (hack/demo/emergency.sh) ---------------------------------------
emergency_act

section "Notifications received by the webhook receiver ($tmp/webhooks.log)"
info "One line per delivery: id (the Idempotency-Key header), event, RotatedSecret, revision; never a body"
indent <"$tmp/webhooks.log"

section "kubectl get rotsec -A -o wide"
kubectl get rotsec -A -o wide

section "kubectl rotation status -A (the plugin: value age, next rotation, revocations, overrides, flags)"
kubectl rotation status -A

section "kubectl describe rotsec jwt-secret -n $ns (Events of acts 1, 2 and 4)"
# The header, then every line from the first rotation's RotationStarted on.
kubectl describe rotsec jwt-secret -n "$ns" | sed -n '/^Events:/,$p' |
  awk -v start="Rotation to revision $rev2 started" 'NR <= 3 { print; next } index($0, start) { on = 1 } on'
