# The helpers of hack/demo.sh, which sources this file: formatting, the operator's state, waits, the keyed
# fingerprints of backend-env and the timelines. They use its variables (ns, operator_ns, tmp, mgr_pid,
# wait_timeout, ...) and its KUBECONFIG. Nothing here prints a Secret value.
# shellcheck shell=bash
# shellcheck disable=SC2154 # ns, tmp, mgr_pid and the others are set by hack/demo.sh

# Formatting: bold section headers on a terminal, plain text otherwise.
if [ -t 1 ]; then bold=$'\033[1m' reset=$'\033[0m'; else bold="" reset=""; fi
section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$reset"; }
info() { printf '   %s\n' "$*"; }
indent() { sed 's/^/   /'; }
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
      info "$name did not stop within 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}


# field prints one field of a RotatedSecret (jsonpath, e.g. .status.currentRevision), in namespace $3 (default
# backend).
field() { kubectl get rotsec "$1" -n "${3:-$ns}" -o jsonpath="{$2}"; }

# kwait is `kubectl wait` with its arguments, tried again while it fails because the object has no
# status.conditions yet (a CRD or a RotatedSecret just created: kubectl wait then fails at once instead of
# waiting), for at most 2 minutes; any other failure is final.
kwait() {
  local deadline=$((SECONDS + 120)) out
  while :; do
    if out=$(kubectl wait "$@" 2>&1); then
      printf '%s\n' "$out"
      return 0
    fi
    if [[ $out != *"accessor error"* ]] || [ "$SECONDS" -ge "$deadline" ]; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    sleep 0.2
  done
}

# condition prints "<reason>: <message>" of condition $2 of RotatedSecret $1 in namespace $3 (default backend).
condition() {
  local c=".status.conditions[?(@.type==\"$2\")]"
  kubectl get rotsec "$1" -n "${3:-$ns}" -o jsonpath="{$c.reason}: {$c.message}"
}

# now is the time in UTC with microseconds, as the operator's Events carry it.
now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# target_fingerprints prints "<key> <fingerprint> <what it holds>" for the given keys of Secret backend-env, from
# `kubectl rotation fingerprint` (bin/kubectl-rotation, on PATH): it reads the Secret and the operator's fingerprint
# key and never prints a value. A key that is not there prints nothing.
target_fingerprints() {
  local key
  for key in "$@"; do
    { kubectl rotation fingerprint "$(rotsec_of "$key")" -n "$ns" --operator-namespace "$operator_ns" --no-headers || true; } |
      awk -v key="$key" -v target="$ns/backend-env" '$1 == target && $2 == key { $1 = ""; $NF = ""; print substr($0, 2) }'
  done
}

# rotsec_of names the RotatedSecret that writes a key of backend-env.
rotsec_of() { case $1 in COOKIE_SECRET*) echo cookie-secret ;; *) echo jwt-secret ;; esac; }

# target_fingerprint prints the fingerprint of one key of backend-env.
target_fingerprint() { target_fingerprints "$1" | cut -d' ' -f2; }

# wait_outcome waits until the history record of a revision has an outcome other than InProgress and prints it
# (namespace $3, default backend).
wait_outcome() {
  local name=$1 rev=$2 outcome="" deadline=$((SECONDS + wait_timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    outcome=$(field "$name" ".status.history[?(@.revision==$rev)].outcome" "${3:-}")
    if [ -n "$outcome" ] && [ "$outcome" != InProgress ]; then
      echo "$outcome"
      return 0
    fi
    alive "$mgr_pid" || die "the operator exited"
    sleep 0.5
  done
  die "revision $rev of $name did not finish within ${wait_timeout}s (outcome '${outcome:-none}')"
}

# wait_reason waits until condition $2 of RotatedSecret $1 (namespace backend) has one of the reasons $3 (a
# regular expression) and prints "<reason>: <message>".
wait_reason() {
  local name=$1 type=$2 reasons=$3 now_is="" deadline=$((SECONDS + wait_timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    now_is=$(condition "$name" "$type")
    if [[ $now_is =~ ^($reasons): ]]; then
      echo "$now_is"
      return 0
    fi
    alive "$mgr_pid" || die "the operator exited"
    sleep 0.2
  done
  die "condition $type of $name did not get reason $reasons within ${wait_timeout}s (now '${now_is%%:*}')"
}

# wait_delivery waits until the webhook receiver has logged event $1 about RotatedSecret $2 (namespace/name)
# revision $3, and prints that line.
wait_delivery() {
  local pattern=" event=$1 rotatedsecret=$2 revision=$3\$" deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if grep -m 1 -E "$pattern" "$tmp/webhooks.log"; then
      return 0
    fi
    sleep 0.2
  done
  die "the webhook receiver got no $1 notification about $2 revision $3 within 30s"
}

# timeline prints the Events of RotatedSecret $1 in namespace $3 (default backend) since $2, with its validation
# Jobs and the history record of the rotation they started.
timeline() {
  kubectl get events.events.k8s.io,rotatedsecrets,jobs,pods -n "${3:-$ns}" -o json |
    python3 hack/demo/report.py timeline "$1" "$2"
}

# annotations is a go-template fragment that sets $j and $c to the jwt-secret and cookie-secret restart
# annotations in $a ("-" when absent).
# shellcheck disable=SC2016 # go-template, not shell
annotations='{{- $j := "-"}}{{$c := "-"}}{{if $a}}{{with index $a "rotation.tribi.io/jwt-secret"}}{{$j = .}}{{end}}
{{- with index $a "rotation.tribi.io/cookie-secret"}}{{$c = .}}{{end}}{{end}}'

# show_workloads prints the restart annotations of both Deployments' pod templates and of their running pods.
show_workloads() {
  # shellcheck disable=SC2016 # go-template, not shell
  kubectl get deployments,pods -n "$ns" -l tier -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}
{{- $a := .metadata.annotations}}{{if eq .kind "Deployment"}}{{$a = .spec.template.metadata.annotations}}{{end}}
'"$annotations"'{{printf "%-10s %-30s jwt-secret=%-3s cookie-secret=%s\n" .kind .metadata.name $j $c}}
{{- end}}{{end}}' | indent
}

# check_pods fails unless all four running backend pods carry jwt-secret revision $1.
check_pods() {
  local revs
  # shellcheck disable=SC2016 # go-template, not shell
  revs=$(kubectl get pods -n "$ns" -l tier -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}
{{- $a := .metadata.annotations}}
'"$annotations"'{{$j}}{{"\n"}}{{end}}{{end}}')
  if [ "$(grep -cx "$1" <<<"$revs")" != 4 ] || [ "$(wc -l <<<"$revs")" != 4 ]; then
    die "expected 4 running backend pods on jwt-secret revision $1, found: $(paste -sd ' ' <<<"$revs")"
  fi
}

# rotate forces a rotation of jwt-secret, waits for it to end and prints its timeline. It sets `outcome`.
rotate() {
  local token since
  token="demo-$1-$(date +%s)"
  since=$(now)
  info "kubectl annotate rotsec jwt-secret rotation.tribi.io/rotate=$token --overwrite"
  kubectl annotate rotsec jwt-secret -n "$ns" rotation.tribi.io/rotate="$token" --overwrite >/dev/null
  outcome=$(wait_outcome jwt-secret "$2")
  info ""
  info "Timeline (Events of rotsec/jwt-secret; seconds since the annotation):"
  timeline jwt-secret "$since"
}
