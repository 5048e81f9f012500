# Act 4 of hack/demo.sh, which sources this file (with hack/demo/lib.sh) and calls emergency_act: an emergency
# during a running rotation of jwt-secret. A rotate token starts revision N; while its workers restart, an
# emergency token discards it (EmergencyPreempted, history outcome Discarded) and starts N+1 at once: the revision
# in service is marked compromised, JWT_SECRET_PREVIOUS leaves backend-env before anything restarts (revoke:
# First), RATE_LIMIT_CODES_PER_DAY in ConfigMap backend-config is lowered to 2 before the first restart, then the
# rollout, the smoke Job, the commit and the purge Job; a minute later (the demo's override duration) the override
# is reverted and the stages restart on the original setting. Then it prints the incident record
# (status.incidents[0]). Each fact is checked; Secret values are never printed, only key names and fingerprints.
# shellcheck shell=bash
# shellcheck disable=SC2154 # ns, tmp, mgr_pid and the others are set by hack/demo.sh

watch_pid="" # the fingerprint watch of backend-env (kubectl rotation fingerprint --watch); hack/demo.sh's cleanup stops it

# jwt_events prints "<time> <reason> <note>" for each Event of jwt-secret first seen from $1 on, oldest first.
jwt_events() {
  kubectl get events.events.k8s.io -n "$ns" -o json | python3 hack/demo/report.py events jwt-secret "$1"
}

# wait_event waits for an Event of jwt-secret from $1 on with reason $2 whose note contains $3, and prints its time.
wait_event() {
  local since=$1 reason=$2 text=$3 t deadline=$((SECONDS + wait_timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    t=$(jwt_events "$since" | awk -v r="$reason" -v p="$text" '$2 == r && index($0, p) { print $1; exit }')
    if [ -n "$t" ]; then
      echo "$t"
      return 0
    fi
    alive "$mgr_pid" || die "the operator exited"
    sleep 0.5
  done
  die "no $reason Event of jwt-secret ($text) within ${wait_timeout}s"
}

# codes_per_day prints RATE_LIMIT_CODES_PER_DAY of ConfigMap backend-config (a setting, not a credential).
codes_per_day() { kubectl get configmap backend-config -n "$ns" -o jsonpath='{.data.RATE_LIMIT_CODES_PER_DAY}'; }

# env_keys prints the key names of Secret backend-env on one line.
env_keys() {
  kubectl get secret backend-env -n "$ns" -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}'
}

# has_previous is true while backend-env has the key JWT_SECRET_PREVIOUS.
has_previous() { [[ " $(env_keys) " == *" JWT_SECRET_PREVIOUS "* ]]; }

# template_rev prints the jwt-secret restart annotation of the pod template of Deployment $1 ("" when none).
template_rev() {
  kubectl get deployment "$1" -n "$ns" -o go-template='{{with .spec.template.metadata.annotations}}
{{- with index . "rotation.tribi.io/jwt-secret"}}{{.}}{{end}}{{end}}'
}

# wait_template waits until Deployment $1 restarts on jwt-secret revision $2 (its pod template says so).
wait_template() {
  local deadline=$((SECONDS + wait_timeout))
  while [ "$(template_rev "$1")" != "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "$1 did not restart on jwt-secret revision $2 within ${wait_timeout}s"
    alive "$mgr_pid" || die "the operator exited"
    sleep 0.1
  done
}

# running_pods prints "<creation time> <name>" of each running backend pod, one a line.
running_pods() {
  kubectl get pods -n "$ns" -l tier -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}
{{- .metadata.creationTimestamp}} {{.metadata.name}}{{"\n"}}{{end}}{{end}}'
}

# elapsed prints the time from $1 to $2 (both as `now` prints them) in seconds, e.g. "0.4s".
elapsed() { echo "$(date -u -d "$1" +%s.%N) $(date -u -d "$2" +%s.%N)" | awk '{ printf "%.1fs", $2 - $1 }'; }

# emergency_act runs act 4.
emergency_act() {
  local rev_in fp_in last normal_rev emergency_rev since token etoken reason asked gone preempted removed applied
  local first_restart state value outcome fp_new purge_job expires before reverted healthy_w healthy_a
  local types t r deadline i revisions
  rev_in=$(field jwt-secret .status.currentRevision)
  fp_in=$(field jwt-secret .status.currentFingerprint)
  last=$(field jwt-secret '.status.history[*].revision' | tr ' ' '\n' | sort -n | tail -n 1)
  normal_rev=$((last + 1))
  emergency_rev=$((last + 2))
  section "4. Emergency during a running rotation of jwt-secret: revision $normal_rev discarded, $emergency_rev at once"
  info "The smoke test passes again (act 2's kwok label removed), and esim-worker's new pods count as available"
  info "after 5s (minReadySeconds: kwok pods are Ready at once), so that its stage lasts long enough to interrupt"
  kubectl patch rotsec jwt-secret -n "$ns" --type=json \
    -p "[{\"op\": \"remove\", \"path\": \"/spec/validation/jobs/0/template/spec/template/metadata/labels/$fail_label\"}]" >/dev/null
  kubectl patch deployment esim-worker -n "$ns" -p '{"spec": {"minReadySeconds": 5}}' >/dev/null
  kwait --for=condition=Ready rotsec/jwt-secret -n "$ns" --timeout=60s >/dev/null
  [ "$(codes_per_day)" = 10 ] || die "backend-config[RATE_LIMIT_CODES_PER_DAY] is $(codes_per_day) before the emergency, not 10"
  has_previous || die "backend-env has no JWT_SECRET_PREVIOUS before the emergency"
  info "jwt-secret is on revision $rev_in ($fp_in); backend-config[RATE_LIMIT_CODES_PER_DAY] is 10"
  info "Keys of backend-env: $(env_keys)"
  # Every version of backend-env from now on, fingerprinted as it is seen.
  kubectl rotation fingerprint jwt-secret -n "$ns" --operator-namespace "$operator_ns" --watch --no-headers \
    >"$tmp/backend-env.watch" 2>&1 &
  watch_pid=$!
  for ((i = 0; i < 100; i++)); do
    [ -s "$tmp/backend-env.watch" ] && break
    alive "$watch_pid" || die "the watch of backend-env exited: $(cat "$tmp/backend-env.watch")"
    sleep 0.1
  done
  [ -s "$tmp/backend-env.watch" ] || die "the watch of backend-env saw nothing within 10s"

  info ""
  since=$(now)
  token="demo-rotate-$(date +%s)"
  info "kubectl annotate rotsec jwt-secret rotation.tribi.io/rotate=$token --overwrite"
  kubectl annotate rotsec jwt-secret -n "$ns" rotation.tribi.io/rotate="$token" --overwrite >/dev/null
  wait_template esim-worker "$normal_rev"
  state="step $(field jwt-secret .status.pending.step), stage $(field jwt-secret .status.rollout.stage)"
  info "Revision $normal_rev is rolling out ($state): the workers are restarting on it"
  reason="JWT secret pasted in a public channel"
  asked=$(now)
  info "kubectl rotation emergency jwt-secret --reason \"$reason\""
  out=$(kubectl rotation emergency jwt-secret -n "$ns" --reason "$reason") || die "kubectl rotation emergency failed: $out"
  # "Asked for an emergency rotation of backend/jwt-secret (token <token>)"
  etoken=$(sed -n 's/.*(token \(.*\))$/\1/p' <<<"$out")
  [ -n "$etoken" ] || die "kubectl rotation emergency printed no token: $out"
  deadline=$((SECONDS + 30))
  while has_previous; do
    [ "$SECONDS" -lt "$deadline" ] || die "JWT_SECRET_PREVIOUS is still in backend-env 30s after the emergency"
    sleep 0.1
  done
  gone=$(now)

  outcome=$(wait_outcome jwt-secret "$normal_rev")
  [ "$outcome" = Discarded ] || die "revision $normal_rev ended $outcome, not Discarded"
  preempted=$(wait_event "$asked" EmergencyPreempted "Revision $normal_rev")
  removed=$(wait_event "$asked" PreviousRemoved "Removed the previous-value keys")
  applied=$(wait_event "$asked" OverrideApplied "RATE_LIMIT_CODES_PER_DAY")
  first_restart=$(wait_event "$asked" RollingOut "restarting its workloads on revision $emergency_rev")
  [[ $removed < $first_restart ]] || die "the previous key was removed at $removed, after the first restart ($first_restart)"
  [[ $applied < $first_restart ]] || die "the override was applied at $applied, after the first restart ($first_restart)"
  wait_template esim-worker "$emergency_rev"
  value=$(codes_per_day)
  state="step $(field jwt-secret .status.pending.step), stage $(field jwt-secret .status.rollout.stage)"
  [ "$value" = 2 ] || die "backend-config[RATE_LIMIT_CODES_PER_DAY] is $value while the emergency rolls out, not 2"
  outcome=$(wait_outcome jwt-secret "$emergency_rev")
  [ "$outcome" = Succeeded ] || die "emergency revision $emergency_rev ended $outcome, not Succeeded"
  kubectl rollout status deployment/esim-worker deployment/backend-api -n "$ns" --timeout=60s >/dev/null
  check_pods "$emergency_rev"
  fp_new=$(field jwt-secret .status.currentFingerprint)
  [ "$(target_fingerprint JWT_SECRET)" = "$fp_new" ] || die "backend-env[JWT_SECRET] does not hold revision $emergency_rev"
  ! has_previous || die "backend-env has JWT_SECRET_PREVIOUS after the emergency"
  for r in "$rev_in" "$normal_rev"; do
    field jwt-secret '.status.compromised[*].revision' | tr ' ' '\n' | grep -qx "$r" ||
      die "revision $r is not in status.compromised"
  done
  while read -r t _; do
    [[ ! $t < ${applied%.*}Z ]] || die "a pod on revision $emergency_rev was created at $t, before the override ($applied)"
  done < <(running_pods)
  info "Timeline (Events of rotsec/jwt-secret; seconds since the rotate annotation):"
  timeline jwt-secret "$since"
  info ""
  info "Discarded: revision $normal_rev (history outcome $(field jwt-secret ".status.history[?(@.revision==$normal_rev)].outcome"));" \
    "Event EmergencyPreempted at ${preempted:11:12}"
  info "status.compromised (revision fingerprint incident):"
  kubectl get rotsec jwt-secret -n "$ns" -o go-template='{{range .status.compromised}}{{.revision}} {{.fingerprint}} {{.incident}}{{"\n"}}{{end}}' | indent
  info "JWT_SECRET_PREVIOUS left backend-env $(elapsed "$asked" "$gone") after the emergency annotation (Event" \
    "PreviousRemoved at ${removed:11:12}), before the first restart on revision $emergency_rev (${first_restart:11:12})"
  info "backend-config[RATE_LIMIT_CODES_PER_DAY] set to 2 at ${applied:11:12} (OverrideApplied), before that restart;" \
    "it read $value while the workers restarted on revision $emergency_rev ($state), and every running pod was created after it"
  info "backend-env[JWT_SECRET] $(target_fingerprint JWT_SECRET) (revision $emergency_rev); keys now: $(env_keys)"

  info ""
  purge_job="jwt-secret-purge-sessions-r$emergency_rev"
  wait_event "$asked" PurgeSucceeded "Revision $emergency_rev" >/dev/null
  [ "$(field jwt-secret '.status.purgeJobs.jobs[0].jobName')" = "$purge_job" ] || die "status.purgeJobs does not name $purge_job"
  [ "$(field jwt-secret '.status.purgeJobs.jobs[0].result')" = Succeeded ] || die "purge Job $purge_job did not succeed"
  [ "$(kubectl get job "$purge_job" -n "$ns" -o jsonpath='{.status.succeeded}')" = 1 ] || die "Job $purge_job has no succeeded pod"
  info "Purge Job $purge_job: Succeeded (Event PurgeSucceeded); the webhook receiver got the Purge notification:"
  wait_delivery Purge "$ns/jwt-secret" "$emergency_rev" | indent

  info ""
  expires=$(field jwt-secret '.status.overrides[0].expiresAt')
  [ -n "$expires" ] || die "status.overrides lists no override"
  info "status.overrides: $(field jwt-secret '.status.overrides[0].kind') $(field jwt-secret '.status.overrides[0].name')" \
    "key $(field jwt-secret '.status.overrides[0].key') until $expires (the demo's 1m; the samples' 24h); waiting for it"
  before=$(running_pods | cut -d' ' -f2 | sort)
  reverted=$(wait_event "$asked" OverrideReverted "RATE_LIMIT_CODES_PER_DAY")
  [ "$(codes_per_day)" = 10 ] || die "backend-config[RATE_LIMIT_CODES_PER_DAY] is $(codes_per_day) after the revert, not 10"
  [ -z "$(field jwt-secret .status.overrides)" ] || die "status.overrides still lists an override after the revert"
  healthy_w=$(wait_event "$reverted" StageHealthy "Stage workers healthy")
  healthy_a=$(wait_event "$reverted" StageHealthy "Stage api healthy")
  [[ $healthy_w < $healthy_a ]] || die "after the revert the api stage was healthy before the workers' stage"
  kubectl rollout status deployment/esim-worker deployment/backend-api -n "$ns" --timeout=60s >/dev/null
  [ -z "$(comm -12 <(echo "$before") <(running_pods | cut -d' ' -f2 | sort))" ] ||
    die "pods from before the revert still run: the stages did not restart"
  check_pods "$emergency_rev"
  info "Events of rotsec/jwt-secret from the revert on:"
  jwt_events "$reverted" | while read -r t r note; do printf '%s  %-17s %s\n' "${t:11:12}" "$r" "$note"; done | indent
  info "backend-config[RATE_LIMIT_CODES_PER_DAY] is 10 again; both stages restarted after the revert, workers first;" \
    "every pod is new and still on revision $emergency_rev:"
  show_workloads

  info ""
  info "Every version of backend-env from before the rotate annotation on, as a watch saw it: the keyed fingerprint"
  info "of each key (- when absent) and the revision of jwt-secret it belongs to (status.history, status.compromised)"
  stop_pid "backend-env watch" "$watch_pid" >/dev/null
  watch_pid=""
  # shellcheck disable=SC2016 # go-template, not shell
  revisions=$(kubectl get rotsec jwt-secret -n "$ns" -o go-template='{{range .status.history}}{{.fingerprint}} {{.revision}}{{"\n"}}{{end}}
{{- range .status.compromised}}{{.fingerprint}} compromised{{"\n"}}{{end}}')
  # A compromised value that a version after the emergency annotation newly holds was written again: noted in
  # $tmp/rewritten, one "<key> revision <n> at <time>" a line.
  # Watch lines: <time> <target> <key> <fingerprint> <what the plugin said it held then>.
  awk -v asked="$asked" -v out="$tmp/rewritten" 'NR == FNR { if ($2 == "compromised") bad[$1] = 1; else rev[$1] = $2; next }
    $2 == target { key = $3; fp = $4; note = ""
      if (fp in rev) note = " (revision " rev[fp] (fp in bad ? ", compromised" : "") ")"
      if ($1 > asked && (fp in bad) && last[key] != fp) print key " revision " rev[fp] " at " substr($1, 12, 12) > out
      last[key] = fp
      print substr($1, 12, 12) "  " key "=" fp note }' target="$ns/backend-env" <(echo "$revisions") "$tmp/backend-env.watch" | indent
  if [ -s "$tmp/rewritten" ]; then
    die "written again after the emergency annotation although compromised: $(paste -sd ';' "$tmp/rewritten")"
  else
    info "No compromised value was written to backend-env after the emergency annotation"
  fi

  info ""
  info "The post-incident review from the incident record (status.incidents[0]), as"
  info "kubectl rotation incident jwt-secret --append REGRESSIONS_FIXED.md writes it:"
  kubectl rotation incident jwt-secret -n "$ns" --append "$tmp/REGRESSIONS_FIXED.md" >/dev/null
  indent <"$tmp/REGRESSIONS_FIXED.md"
  [ "$(field jwt-secret '.status.incidents[0].token')" = "$etoken" ] || die "status.incidents[0] is not incident $etoken"
  [ "$(field jwt-secret '.status.incidents[0].reason')" = "$reason" ] || die "the incident's reason is not \"$reason\""
  [[ "$(field jwt-secret '.status.incidents[0].requestedBy')" == kubectl-rotation/* ]] ||
    die "the incident was not requested through kubectl rotation: $(field jwt-secret '.status.incidents[0].requestedBy')"
  [ "$(field jwt-secret '.status.incidents[0].outcome')" = Succeeded ] || die "the incident's outcome is not Succeeded"
  [ "$(field jwt-secret '.status.incidents[0].compromisedRevision')" = "$rev_in" ] || die "the incident's compromised revision is not $rev_in"
  [ "$(field jwt-secret '.status.incidents[0].revision')" = "$emergency_rev" ] || die "the incident's revision is not $emergency_rev"
  types=" $(field jwt-secret '.status.incidents[0].timeline[*].type') "
  for t in Requested Compromised Preempted PreviousRemoved OverrideApplied TargetsWritten StageHealthy Validation Committed PurgeJob \
    OverrideReverted; do
    [[ $types == *" $t "* ]] || die "the incident's timeline has no $t entry"
  done
}
