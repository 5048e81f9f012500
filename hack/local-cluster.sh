#!/usr/bin/env bash
# A real local Kubernetes control plane for the end-to-end tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok, all built from source and listening on 127.0.0.1 only, plus simulated kwok nodes, so
# Deployments really roll and Jobs really complete or fail. No container runtime, no Docker. See
# docs/local-cluster.md.
#
# Usage: hack/local-cluster.sh up|down|status|smoke
#   up      start a fresh cluster (wiping an earlier run's state in the directory); the last stdout line is
#           KUBECONFIG=<path>, progress goes to stderr
#   down    stop what `up` started (kwok, scheduler, controller-manager, then apiserver, then etcd)
#   status  list the components and whether they run
#   smoke   prove on the running cluster that a Deployment rolls and Jobs complete and fail
#
# Environment:
#   LOCAL_CLUSTER_DIR           cluster directory holding all state (default: bin/local-cluster)
#   LOCAL_CLUSTER_NODES         number of simulated nodes (default: 1)
#   LOCAL_CLUSTER_TIMEOUT       seconds `up` waits for each step (default: 60)
#   LOCAL_CLUSTER_STOP_TIMEOUT  seconds `down` waits after SIGTERM before SIGKILL (default: 20)
#   KUBECTL                     kubectl binary (default: kubectl on PATH)
set -euo pipefail

KWOK_VERSION=v0.8.0
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${LOCAL_CLUSTER_DIR:-$root/bin/local-cluster}
nodes=${LOCAL_CLUSTER_NODES:-1}
timeout=${LOCAL_CLUSTER_TIMEOUT:-60}
stop_timeout=${LOCAL_CLUSTER_STOP_TIMEOUT:-20}
kubectl=${KUBECTL:-kubectl}

service_cidr=10.0.0.0/24 # the apiserver's Service range; 10.0.0.1 is the kubernetes Service
pod_cidr=10.244.0.0/16   # where kwok hands out pod IPs; must not overlap the Service range
marker=.local-cluster    # a directory holding this file was made by this script and may be wiped by `up`

# Components in start order; `down` stops the first three together, then the apiserver, then etcd, because an
# apiserver whose etcd is gone hangs on SIGTERM.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

t0=${EPOCHREALTIME/./} # microseconds at start, for the elapsed time on every progress line
log() {
  local ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
  printf 'local-cluster: [%d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}
die() { log "error: $*"; exit 1; }

# pid_of prints the recorded pid of a component if that process still runs and is ours. A process is ours when
# its command line mentions the cluster directory (every component gets a path inside it), which guards against
# a pid reused by an unrelated process. A zombie counts as gone.
pid_of() {
  local f="$dir/pids/$1.pid" pid state
  [ -f "$f" ] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ $state != Z* ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/" || return 1
  echo "$pid"
}

# any_running is true if at least one component of this cluster runs.
any_running() {
  local c
  for c in "${components[@]}"; do pid_of "$c" >/dev/null && return 0; done
  return 1
}

# stop_group sends SIGTERM to the given components, waits for all of them up to stop_timeout and SIGKILLs the
# rest. Components that do not run are skipped, so it is safe to call twice.
stop_group() {
  local c pid left deadline=$((SECONDS + stop_timeout)) killed=0
  for c in "$@"; do
    pid=$(pid_of "$c") || continue
    log "Stopping $c (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  while :; do
    left=()
    for c in "$@"; do pid_of "$c" >/dev/null && left+=("$c"); done
    [ ${#left[@]} -gt 0 ] || break
    if [ "$SECONDS" -ge "$deadline" ]; then
      [ "$killed" = 0 ] || die "could not stop ${left[*]} even with SIGKILL"
      for c in "${left[@]}"; do
        pid=$(pid_of "$c") || continue
        log "$c (pid $pid) still runs ${stop_timeout}s after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      done
      killed=1
      deadline=$((SECONDS + 5))
    fi
    sleep 0.1
  done
  for c in "$@"; do rm -f "$dir/pids/$c.pid"; done
}

cmd_down() {
  if [ ! -d "$dir/pids" ] || ! any_running; then
    log "Nothing running in $dir"
    rm -f "$dir"/pids/*.pid 2>/dev/null || true
    return 0
  fi
  stop_group kwok kube-scheduler kube-controller-manager
  stop_group kube-apiserver
  stop_group etcd
  log "Stopped the cluster in $dir (logs kept in $dir/logs)"
}

cmd_status() {
  local c pid rss total=0
  if any_running && [ -f "$dir/env" ]; then cat "$dir/env"; fi
  for c in "${components[@]}"; do
    if pid=$(pid_of "$c"); then
      rss=$(ps -o rss= -p "$pid" | tr -d ' ')
      total=$((total + rss))
      printf '%-24s running  pid %-8s rss %5d MiB\n' "$c" "$pid" $((rss / 1024))
    else
      printf '%-24s stopped\n' "$c"
    fi
  done
  printf 'total rss %d MiB\n' $((total / 1024))
}

# free_ports prints n TCP ports on 127.0.0.1 that were free a moment ago: all are bound at once, so they differ.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# start runs one component in its own session (so a Ctrl-C meant for the caller does not reach it), with stdin,
# stdout and stderr detached from the caller, and records its pid.
start() {
  local name=$1; shift
  local i
  setsid "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
  # Until it execs the component, $! is a copy of this shell, whose command line pid_of does not recognise: on a
  # loaded machine that took long enough for a starting kube-apiserver to be reported dead. Wait for the exec.
  for ((i = 0; i < 50; i++)); do
    tr '\0' ' ' <"/proc/$!/cmdline" 2>/dev/null | grep -qF -- "$dir/" && break
    sleep 0.1
  done
  log "Started $name (pid $!, log $dir/logs/$name.log)"
}

# check_alive fails, with the tail of its log, if a started component has exited.
check_alive() {
  local c
  for c in "$@"; do
    if ! pid_of "$c" >/dev/null; then
      log "$c exited during startup; last lines of $dir/logs/$c.log:"
      tail -n 25 "$dir/logs/$c.log" >&2 || true
      grep -q 'address already in use' "$dir/logs/$c.log" 2>/dev/null &&
        log "hint: a port was taken between choosing and binding it; run up again"
      return 1
    fi
  done
}

# wait_for retries a command every 0.2s until it succeeds, checking meanwhile that the started components live.
# Usage: wait_for "<what>" "<components>" cmd args...
wait_for() {
  local what=$1 alive=$2 tries=$((timeout * 5)); shift 2
  # The subshell keeps the redirection away from the exit trap: a trap that fires while a function runs with
  # its output redirected would otherwise send its messages to /dev/null too.
  until ("$@") >/dev/null 2>&1; do
    # shellcheck disable=SC2086 # $alive is a space-separated list of component names
    check_alive $alive || die "$what: a component died"
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || die "$what: not done after ${timeout}s (logs in $dir/logs)"
    sleep 0.2
  done
  log "Done: $what"
}

# leaf_cert issues a certificate signed by the cluster CA. Usage: leaf_cert name subject extensions
leaf_cert() {
  local pki="$dir/pki"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null
  openssl req -new -key "$pki/$1.key" -subj "$2" |
    openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -days 3650 -extfile <(printf '%b' "$3") -out "$pki/$1.crt" 2>/dev/null
}

# make_pki creates the cluster CA, the apiserver serving certificate, one client certificate per user and the
# service-account signing key.
make_pki() {
  local pki="$dir/pki" client='keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
  mkdir -p "$pki"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=local-cluster-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$pki/ca.crt"
  local sans="DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  sans+=",DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1"
  leaf_cert apiserver "/CN=kube-apiserver" \
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=$sans\n"
  leaf_cert admin "/O=system:masters/CN=admin" "$client"
  leaf_cert scheduler "/CN=system:kube-scheduler" "$client"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
}

# make_kubeconfig writes a kubeconfig with embedded credentials. Usage: make_kubeconfig file user
make_kubeconfig() {
  local pki="$dir/pki"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$pki/$2.crt")
    client-key-data: $(base64 -w0 <"$pki/$2.key")
contexts:
- name: local
  context: {cluster: local, user: $2}
current-context: local
EOF
}

# kwok_binary builds kwok into a version-keyed directory once and prints its path.
kwok_binary() {
  local bin="$root/bin/kwok-$KWOK_VERSION/kwok"
  if [ ! -x "$bin" ]; then
    log "Building kwok $KWOK_VERSION (first run only)"
    GOBIN="$root/bin/kwok-$KWOK_VERSION" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
  fi
  echo "$bin"
}

# kwok_stages prints kwok's own Stage manifests from the module cache, joined into one YAML stream. The standalone
# kwok binary has no built-in stages (only kwokctl adds them), so it gets these through --config.
kwok_stages() {
  local mod f
  # Run outside any module, so the download cannot touch this repository's go.mod or go.sum.
  mod=$(cd / && GOWORK=off go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
    pod/chaos/pod-container-running-failed.yaml; do
    [ -f "$mod/kustomize/stage/$f" ] || die "kwok stage $f not found in $mod"
    printf -- '---\n# From sigs.k8s.io/kwok@%s kustomize/stage/%s\n' "$KWOK_VERSION" "$f"
    cat "$mod/kustomize/stage/$f"
  done
}

# audit_policy prints the apiserver's audit policy: every write a ServiceAccount makes (the operator runs as one,
# and acts as tenants' ones by impersonation), at Metadata level, once its response is sent. The tests read it to
# tell who changed what and when; admin and the cluster's own components are not logged, which keeps it small.
audit_policy() {
  cat <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted, Panic]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
EOF
}

# prepare_dir makes sure the cluster directory is ours and empty: a directory left by an earlier run (it has the
# marker file) is wiped, anything else that is not empty is refused.
prepare_dir() {
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    [ -f "$dir/$marker" ] || die "$dir is not empty and was not made by this script; choose another LOCAL_CLUSTER_DIR"
    if any_running; then
      log "A cluster is already running in $dir; run \`$0 down\` first, or use another LOCAL_CLUSTER_DIR"
      cmd_status >&2
      exit 1
    fi
    find "$dir" -mindepth 1 -delete
  fi
  mkdir -p "$dir/pids" "$dir/logs" "$dir/etcd"
  touch "$dir/$marker"
}

# api GETs a path from the apiserver as admin. The waits poll with curl rather than kubectl, which costs ten
# times the CPU per call, and CPU is what the starting components are short of on a small machine.
api() {
  curl -fsS --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
    "https://127.0.0.1:$apiserver_port$1"
}

# node_ready is true once kwok has marked the node Ready.
node_ready() {
  api "/api/v1/nodes/$1" | python3 -c 'import json, sys
conditions = json.load(sys.stdin)["status"].get("conditions", [])
sys.exit(0 if {"type": "Ready", "status": "True"}.items() <= next(
    (c for c in conditions if c["type"] == "Ready"), {}).items() else 1)'
}

up_done=0 # set once `up` succeeded; until then its exit trap stops what it started

cmd_up() {
  local assets kwok etcd_port apiserver_port peer_port kcm_port sched_port i kc="$dir/kubeconfig"
  command -v "$kubectl" >/dev/null || die "kubectl not found (set KUBECTL)"
  command -v python3 >/dev/null || die "python3 not found (used to pick free ports)"
  [[ $nodes =~ ^[1-9][0-9]*$ ]] || die "LOCAL_CLUSTER_NODES must be a positive number"
  assets=$("$root/hack/envtest-assets.sh" kube-apiserver etcd kube-controller-manager kube-scheduler | tail -1)
  kwok=$(kwok_binary)
  prepare_dir
  # From here on a failure or an interrupt stops whatever was started; the logs stay.
  trap '[ "$up_done" = 1 ] || { log "up did not finish; stopping what it started"; cmd_down; }' EXIT
  trap 'exit 130' INT TERM

  read -r etcd_port peer_port apiserver_port kcm_port sched_port < <(free_ports 5)
  make_pki
  make_kubeconfig "$kc" admin
  make_kubeconfig "$dir/scheduler.kubeconfig" scheduler
  kwok_stages >"$dir/kwok.yaml"
  audit_policy >"$dir/audit-policy.yaml"
  cat >"$dir/env" <<EOF
KUBECONFIG=$kc
ETCD_PORT=$etcd_port
APISERVER_PORT=$apiserver_port
CONTROLLER_MANAGER_PORT=$kcm_port
SCHEDULER_PORT=$sched_port
AUDIT_LOG=$dir/logs/audit.log
EOF

  start etcd "$assets/etcd" --name=local --data-dir="$dir/etcd" --unsafe-no-fsync \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="local=http://127.0.0.1:$peer_port"
  wait_for "etcd health" etcd curl -fsS "http://127.0.0.1:$etcd_port/health"

  start kube-apiserver "$assets/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$apiserver_port" --etcd-servers="http://127.0.0.1:$etcd_port" --cert-dir="$dir/pki" \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" --authorization-mode=RBAC --allow-privileged=true \
    --service-cluster-ip-range="$service_cidr" --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --endpoint-reconciler-type=none --profiling=false \
    --audit-policy-file="$dir/audit-policy.yaml" --audit-log-path="$dir/logs/audit.log" --audit-log-format=json
  # --endpoint-reconciler-type=none: the apiserver refuses to publish a loopback address as the endpoint of the
  # kubernetes Service, so that Service has no endpoints here; clients use the kubeconfig instead.
  wait_for "kube-apiserver readiness" "etcd kube-apiserver" api /readyz

  # The controllers share the admin identity (--use-service-account-credentials=false): one account per controller
  # is more realistic but makes the default ServiceAccount appear about 4s later, and the tests exercise the
  # operator's RBAC, not the controller-manager's.
  start kube-controller-manager "$assets/kube-controller-manager" --bind-address=127.0.0.1 \
    --secure-port="$kcm_port" --cert-dir="$dir/pki/controller-manager-serving" --leader-elect=false \
    --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --controllers='*' --use-service-account-credentials=false \
    --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
    --cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" --profiling=false
  start kube-scheduler "$assets/kube-scheduler" --bind-address=127.0.0.1 --secure-port="$sched_port" \
    --cert-dir="$dir/pki/scheduler-serving" --leader-elect=false --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --profiling=false
  # kwok serves no kubelet API here (no --server-address, no --node-port): nothing listens for it.
  start kwok "$kwok" --kubeconfig="$kc" --config="$dir/kwok.yaml" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --cidr="$pod_cidr" --node-ip=127.0.0.1 \
    --node-lease-duration-seconds=40

  for ((i = 0; i < nodes; i++)); do
    sed "s/NODE_NAME/kwok-node-$i/g" "$root/hack/kwok/node.yaml" | "$kubectl" --kubeconfig "$kc" create -f - >/dev/null
  done
  local all="${components[*]}"
  for ((i = 0; i < nodes; i++)); do
    wait_for "node kwok-node-$i Ready" "$all" node_ready "kwok-node-$i"
  done
  # Pods can only be created once the service-account controller has made the namespace's default account.
  wait_for "default ServiceAccount" "$all" api /api/v1/namespaces/default/serviceaccounts/default
  check_alive "${components[@]}" || die "a component died"
  up_done=1

  log "Cluster up: $nodes node(s), apiserver https://127.0.0.1:$apiserver_port, state in $dir"
  echo "KUBECONFIG=$kc"
}

# cmd_smoke proves the cluster does what the end-to-end tests need: a Deployment becomes available and rolls, a
# Job completes, and a Job whose pod kwok fails (label pod-container-running-failed.stage.kwok.x-k8s.io) fails.
cmd_smoke() {
  local kc="$dir/kubeconfig" ns t
  any_running || die "no cluster running in $dir; run \`$0 up\` first"
  k() { "$kubectl" --kubeconfig "$kc" "$@"; }
  ms() { echo "$(( ($(date +%s%N) - t) / 1000000 ))ms"; } # time since $t was set with date +%s%N
  ns="smoke-$(date +%s)-$$"
  k create namespace "$ns" >/dev/null
  t=$(date +%s%N)
  k -n "$ns" apply -f "$root/hack/kwok/smoke-deployment.yaml" >/dev/null
  k -n "$ns" rollout status deployment/smoke --timeout="${timeout}s" >/dev/null
  echo "Deployment smoke: $(k -n "$ns" get deployment smoke -o jsonpath='{.status.availableReplicas}')/2 replicas available $(ms) after creation"
  t=$(date +%s%N)
  k -n "$ns" rollout restart deployment/smoke >/dev/null
  k -n "$ns" rollout status deployment/smoke --timeout="${timeout}s" >/dev/null
  echo "Deployment smoke: rollout restart to revision" \
    "$(k -n "$ns" get deployment smoke -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}') complete in $(ms)"
  t=$(date +%s%N)
  k -n "$ns" apply -f "$root/hack/kwok/smoke-jobs.yaml" >/dev/null
  k -n "$ns" wait --for=condition=Complete job/smoke-succeeds --timeout="${timeout}s" >/dev/null
  echo "Job smoke-succeeds: Complete ($(k -n "$ns" get job smoke-succeeds -o jsonpath='{.status.succeeded}') pod succeeded), $(ms) after creation"
  k -n "$ns" wait --for=condition=Failed job/smoke-fails --timeout="${timeout}s" >/dev/null
  echo "Job smoke-fails: Failed with reason" \
    "$(k -n "$ns" get job smoke-fails -o jsonpath='{.status.conditions[?(@.type=="Failed")].reason}'), $(ms) after creation"
  k delete namespace "$ns" --wait=false >/dev/null
  echo "Smoke check passed (namespace $ns is being deleted)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  smoke) cmd_smoke ;;
  *) sed -n '7,12p' "$0" >&2; exit 2 ;;
esac
