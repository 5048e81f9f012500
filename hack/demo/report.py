#!/usr/bin/env python3
"""What hack/demo.sh prints about a rotation, from objects it reads with kubectl. Never prints a secret value.

  timeline NAME SINCE        stdin: `kubectl get events.events.k8s.io,rotatedsecrets,jobs,pods -n NS -o json`.
                             Prints the operator's Events about RotatedSecret NAME from SINCE (RFC 3339, UTC) on,
                             with the time since SINCE, then the validation Jobs and the history record of the
                             rotation those Events started.
  events NAME SINCE          stdin: `kubectl get events.events.k8s.io -n NS -o json`. Prints "<time> <reason>
                             <note>" for each of the operator's Events about NAME first seen from SINCE on, oldest
                             first; the time is RFC 3339 UTC with microseconds, as `date +%Y-%m-%dT%H:%M:%S.%6NZ`
                             prints it, so that two of them compare as strings.

The incident review and the fingerprints of target Secrets come from the kubectl plugin (kubectl rotation incident,
kubectl rotation fingerprint).
"""
import datetime
import json
import re
import sys


def parse_time(s):
    """Parses Kubernetes times: RFC 3339 with or without fractional seconds, always UTC ("Z")."""
    if not s:
        return None
    s = s.rstrip("Z")
    if "." in s:
        whole, frac = s.split(".")
        s = whole + "." + (frac + "000000")[:6]
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S")


def event_time(e):
    """The last time an Event was seen: events.k8s.io Events from the operator carry eventTime (microseconds)."""
    series = e.get("series") or {}
    return parse_time(series.get("lastObservedTime") or e.get("eventTime") or e.get("deprecatedLastTimestamp"))


def clock(t):
    return t.strftime("%H:%M:%S.%f")[:-3]


def timeline(name, since_text):
    items = json.load(sys.stdin)["items"]
    since = parse_time(since_text)
    by_kind = {}
    for o in items:
        by_kind.setdefault(o["kind"], []).append(o)
    events = [e for e in by_kind.get("Event", [])
              if e.get("regarding", {}).get("kind") == "RotatedSecret" and e["regarding"].get("name") == name
              and (event_time(e) or since) >= since]
    events.sort(key=event_time)

    print(f"   {clock(since)}   +0.00s  {'Trigger':<20} rotation.tribi.io/rotate annotation set")
    revision = None
    for e in events:
        t = event_time(e)
        note = e.get("note", "")
        if revision is None and e.get("reason") == "RotationStarted":
            m = re.search(r"revision (\d+)", note)
            revision = int(m.group(1)) if m else None
        kind = "" if e.get("type") == "Normal" else f" [{e.get('type')}]"
        print(f"   {clock(t)}  {(t - since).total_seconds():+6.2f}s  {e.get('reason', ''):<20} {note}{kind}")

    rs = next((o for o in by_kind.get("RotatedSecret", []) if o["metadata"]["name"] == name), None)
    if rs is None or revision is None:
        print("   (no rotation started since the trigger)")
        return
    status = rs.get("status", {})
    jobs = {j["metadata"]["name"]: j for j in by_kind.get("Job", [])}
    pods = by_kind.get("Pod", [])
    validation = status.get("validation") or {}
    if validation.get("revision") == revision:
        for v in validation.get("jobs", []):
            print(f"   Validation Job {v['jobName']}: {v['result']}{job_detail(jobs.get(v['jobName']), pods)}")
    record = next((h for h in status.get("history", []) if h.get("revision") == revision), None)
    if record:
        span = " -> ".join(clock(t)[:8] for t in (parse_time(record.get("startTime")),
                                                   parse_time(record.get("completionTime"))) if t)
        print(f"   status.history, revision {revision}: {record.get('trigger')}, {span}, outcome "
              f"{record.get('outcome')}, fingerprint {record.get('fingerprint', '-')}")
        if record.get("message"):
            print(f"      message: {record['message']}")


def job_detail(job, pods):
    """The Job's terminal condition and, for a failed Job, how its pod ended."""
    if job is None:
        return " (Job already gone)"
    conds = [c for c in job.get("status", {}).get("conditions", [])
             if c.get("status") == "True" and c.get("type") in ("Complete", "Failed")]
    detail = ""
    if conds:
        c = conds[-1]
        detail = f" (Job condition {c['type']}" + (f", reason {c['reason']}" if c.get("reason") else "") + ")"
    for p in pods:
        if p["metadata"].get("labels", {}).get("job-name") != job["metadata"]["name"]:
            continue
        for cs in p.get("status", {}).get("containerStatuses", []):
            term = (cs.get("state") or {}).get("terminated")
            if term and term.get("exitCode", 0) != 0:
                detail += f"; pod {p['metadata']['name']} exited {term['exitCode']} ({term.get('reason', '')})"
    return detail


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def events(name, since_text):
    since = parse_time(since_text)
    found = []
    for e in json.load(sys.stdin)["items"]:
        if e.get("regarding", {}).get("kind") != "RotatedSecret" or e["regarding"].get("name") != name:
            continue
        # The first time it was seen: an Event repeated later (a series) still happened first then.
        t = parse_time(e.get("eventTime") or e.get("deprecatedFirstTimestamp"))
        if t and t >= since:
            found.append((t, e.get("reason", ""), e.get("note", "").replace("\n", " ")))
    for t, reason, note in sorted(found, key=lambda f: f[0]):
        print(f"{iso(t)} {reason} {note}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "timeline":
        timeline(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "events":
        events(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
