package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// Steps at which StepHook is called while targets are written.
const (
	StepHookTargetWritten  = "TargetWritten"  // one target Secret written, others not yet
	StepHookTargetsWritten = "TargetsWritten" // every target written; status does not know yet
)

// MirrorWriter writes a value into a write-only external store (GitHub Actions secrets).
type MirrorWriter interface {
	Put(ctx context.Context, token []byte, t rotationv1alpha1.GitHubActionsTarget, value []byte) error
}

// writeTargets writes the staged value, and the previous one under the suffix unless this is an emergency, to
// every target. Every target and mirror is pre-flighted first, so a refused Secret, a missing namespace or a
// missing token is found before anything holds the new value; then the mirrors (the likelier to fail), then the
// Kubernetes Secrets.
func (r *RotatedSecretReconciler) writeTargets(ctx context.Context, s *scope) outcome {
	p := s.rs.Status.Pending
	if p == nil || p.Step != rotationv1alpha1.StepStaged {
		return goOnOutcome()
	}
	if err := s.ensureFresh(ctx, r); err != nil {
		return retry(err)
	}
	next, err := r.stagedValues(ctx, s, p.Revision)
	if err != nil {
		return stagedFailed(err)
	}
	if next == nil {
		// Someone deleted or edited the staging Secret before every target had the value. Nothing was committed,
		// so the rotation starts over from generation, for the same revision.
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonStagingLost, "Rotate",
			"The staged value of revision %d is gone from Secret %s/%s; generating it again",
			p.Revision, s.rs.Namespace, staging.Name(s.rs.Name))
		p.Step, p.Fingerprint = rotationv1alpha1.StepDecided, ""
		return waitUntil(s.now)
	}
	var prev provider.Values
	if keepPrevious(s.rs) && !p.Emergency && s.rs.Status.CurrentRevision > 0 && !s.compromised(s.rs.Status.CurrentRevision) {
		if prev, err = r.verifiedValues(s, s.rs.Status.CurrentRevision); err != nil {
			return stagedFailed(err)
		}
	}
	writes := desiredWrites(s.rs, next, prev)
	s.setRotating(rotationv1alpha1.ReasonWritingTargets, fmt.Sprintf("Writing revision %d to %d Secret(s)", p.Revision, len(writes)))
	if o := r.preflight(ctx, s, writes); o.done() {
		return o
	}
	if o := r.writeMirrors(ctx, s, p.Revision, next); o.done() {
		return o
	}
	for i, w := range writes {
		ctrl.LoggerFrom(ctx).Info("Writing target", "secret", w.String(), "keys", w.Keys(), "revision", p.Revision)
		if o := r.applyTarget(ctx, s, w, false); o.done() {
			return o
		}
		if i < len(writes)-1 {
			if o := r.hook(StepHookTargetWritten); o.done() {
				return o
			}
		}
	}
	// Not persisted on its own: the next phase (rollout or commit) follows at once and records it. A crash before
	// that finds the rotation at StepStaged and writes the same bytes again, which changes nothing.
	s.wrote = true
	p.Step = rotationv1alpha1.StepTargetsWritten
	s.note("", rotationv1alpha1.IncidentTargetsWritten, "Revision %d (%s) is in every target: %s", p.Revision, p.Fingerprint, s.targetSummary())
	return r.hook(StepHookTargetsWritten)
}

// preflight checks every write before the first one: no target Secret may be one the operator must never write
// (immutable, of a type Kubernetes owns, or its own), and with several Secrets or a mirror each write is dry-run as
// the RotatedSecret's actor, so a missing namespace, a key owned elsewhere or a write RBAC refuses is found while
// nothing holds the new value (one Secret and no mirror: its write is the first, and fails the same way). Mirrors
// need their token.
func (r *RotatedSecretReconciler) preflight(ctx context.Context, s *scope, writes []sink.SecretWrite) outcome {
	for _, w := range writes {
		var sec corev1.Secret
		if o := r.readTarget(ctx, s, w, &sec); o.done() {
			return o
		}
	}
	if len(writes) > 1 || hasMirror(s.rs) {
		for _, w := range writes {
			if o := r.applyTarget(ctx, s, w, true); o.done() {
				return o
			}
		}
	}
	for _, t := range s.rs.Spec.Targets {
		if g := t.GitHubActions; g != nil && mirroredRevision(s.rs.Status, mirrorID(*g)) != s.rs.Status.Pending.Revision {
			if _, err := r.mirrorToken(ctx, s, *g); err != nil {
				return failed(rotationv1alpha1.ReasonMirrorFailed, err)
			}
		}
	}
	return goOnOutcome()
}

// readTarget reads a target Secret into sec (left empty when it does not exist yet): from the cache, which holds
// the Secrets the operator labelled, else from the API server as the RotatedSecret's actor. A Secret the operator
// must never write stalls.
func (r *RotatedSecretReconciler) readTarget(ctx context.Context, s *scope, w sink.SecretWrite, sec *corev1.Secret) outcome {
	key := client.ObjectKey{Namespace: w.Namespace, Name: w.Name}
	err := r.Get(ctx, key, sec)
	if err != nil {
		// Not in the cache (not labelled yet, or in a namespace the cache does not cover): ask the API server.
		err = s.actor.Reader.Get(ctx, key, sec)
	}
	switch {
	case apierrors.IsNotFound(err):
		*sec = corev1.Secret{}
	case err != nil:
		return forbidden(s.actor.Refused(tenancy.Action{Verb: "get", Resource: "secrets", Namespace: w.Namespace, Name: w.Name}, err))
	}
	why := sink.Refused(sec)
	if why == "" {
		why = r.reserved(ctx, key, sec)
	}
	if why != "" {
		return stall(rotationv1alpha1.ReasonTargetRefused, fmt.Sprintf("target Secret %s: %s; nothing was written "+
			"to any target; name another Secret in spec.targets", w, why))
	}
	return goOnOutcome()
}

// targetFailed classifies a failed target write. A missing namespace gets its own reason: a person must create
// it or fix the spec.
func targetFailed(w sink.SecretWrite, err error) outcome {
	switch {
	case apierrors.IsConflict(err):
		return retry(err)
	case sink.IsNamespaceNotFound(err):
		return failed(rotationv1alpha1.ReasonTargetNamespaceNotFound,
			fmt.Errorf("target Secret %s: namespace %q does not exist", w, w.Namespace))
	}
	return failed(rotationv1alpha1.ReasonTargetWriteFailed, fmt.Errorf("writing target Secret %s: %w", w, err))
}

// desiredWrites groups the targets by Secret (sink.Writes).
var desiredWrites = sink.Writes

// writeMirrors writes values of rev to every GitHub Actions target that does not hold rev yet, and records each
// in status.mirrors (the stores are write-only: status is the only record of what they hold).
func (r *RotatedSecretReconciler) writeMirrors(ctx context.Context, s *scope, rev int64, values provider.Values) outcome {
	for _, t := range s.rs.Spec.Targets {
		if t.GitHubActions == nil || mirroredRevision(s.rs.Status, mirrorID(*t.GitHubActions)) == rev {
			continue
		}
		token, err := r.mirrorToken(ctx, s, *t.GitHubActions)
		if err == nil {
			err = r.GitHub.Put(ctx, token, *t.GitHubActions, values[targetOutput(t)])
		}
		if err != nil {
			return failed(rotationv1alpha1.ReasonMirrorFailed, err)
		}
		setMirror(&s.rs.Status, mirrorID(*t.GitHubActions), rev)
	}
	return goOnOutcome()
}

// mirrorToken reads the token a GitHub Actions target is written with, once per pass (preflight reads it, the
// write uses it).
func (r *RotatedSecretReconciler) mirrorToken(ctx context.Context, s *scope, t rotationv1alpha1.GitHubActionsTarget) ([]byte, error) {
	if r.GitHub == nil {
		return nil, fmt.Errorf("target %s: GitHub mirroring is not enabled in this operator", mirrorID(t))
	}
	if token, ok := s.mirrorTokens[t.TokenSecretRef]; ok {
		return token, nil
	}
	token, err := r.credentials(s).Credential(ctx, t.TokenSecretRef)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", mirrorID(t), err)
	}
	if s.mirrorTokens == nil {
		s.mirrorTokens = map[rotationv1alpha1.SecretKeyRef][]byte{}
	}
	s.mirrorTokens[t.TokenSecretRef] = token
	return token, nil
}

func mirroredRevision(st rotationv1alpha1.RotatedSecretStatus, id string) int64 {
	for _, m := range st.Mirrors {
		if m.Target == id {
			return m.Revision
		}
	}
	return 0
}

func setMirror(st *rotationv1alpha1.RotatedSecretStatus, id string, rev int64) {
	for i := range st.Mirrors {
		if st.Mirrors[i].Target == id {
			st.Mirrors[i].Revision = rev
			return
		}
	}
	st.Mirrors = append(st.Mirrors, rotationv1alpha1.MirrorStatus{Target: id, Revision: rev})
}
