package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// Steps at which StepHook is called, each right after a write to the API server.
const (
	StepHookProviderReturned = "ProviderReturned" // the provider returned a value that is not staged yet
	StepHookGenerated        = "Generated"        // the staging Secret holds the new value; status does not know yet
	StepHookStaged           = "Staged"           // status records the pending rotation and the staged value's fingerprint
)

// awaitingRecheck is how often a provider waiting for a person to stage a value is asked again, besides the
// watch on the staged Secret.
const awaitingRecheck = 5 * time.Minute

// busyRecheck is how soon a rotation that found every vendor call slot taken tries again.
const busyRecheck = 2 * time.Second

// generate produces the pending revision's value, verifies it and stages it. A value already staged for the
// revision (a crash came after staging, or its verification met a transient error) is verified again and reused:
// a revision never gets a second value.
func (r *RotatedSecretReconciler) generate(ctx context.Context, s *scope) outcome {
	p := s.rs.Status.Pending
	if p == nil || p.Step != rotationv1alpha1.StepDecided {
		return goOnOutcome()
	}
	log := ctrl.LoggerFrom(ctx).WithValues("revision", p.Revision)
	if _, pending := staging.Pending(s.staging, p.Revision); pending {
		// The cache may not show yet the result our own last pass staged: only the API server can say that the
		// marker really has no result.
		if err := r.readStaging(ctx, s.actor.Reader, s); err != nil {
			return retry(err)
		}
		if since, pending := staging.Pending(s.staging, p.Revision); pending {
			if r.repeatable(s, since) {
				// The call carries a key the vendor still knows: repeated, it can only return the first one's result.
				log.Info("Repeating the provider call with the same idempotency key", "since", since)
			} else if o := r.generateIncomplete(ctx, s, p.Revision, since); o.done() {
				return o
			}
		}
	}
	res, staged := staging.Get(s.staging, p.Revision)
	if staged {
		log.Info("Reusing the value already staged for this revision")
	} else {
		// Nothing is minted before RBAC has said yes to everything the rotation will do.
		if o := r.checkAccess(ctx, s); o.done() {
			return o
		}
		var o outcome
		if res, o = r.produce(ctx, s, p.Revision); o.done() {
			return o
		}
	}
	if err := r.verify(ctx, s, res); err != nil {
		return r.verifyFailed(ctx, s, res, staged, err)
	}
	quiet := !staged && s.quietFirstValue(res)
	if !staged {
		var o outcome
		if res, o = r.stage(ctx, s, p.Revision, res); o.done() {
			return o
		}
		if r.stopAt(StepHookGenerated) {
			return retry(errStopped)
		}
	}
	p.Step = rotationv1alpha1.StepStaged
	p.Fingerprint = r.Fingerprints.Of(res.Values)
	s.setRotating(rotationv1alpha1.ReasonStaged, fmt.Sprintf("Revision %d staged (%s)", p.Revision, p.Fingerprint))
	if quiet && s.stagingCreated {
		// The staging Secret, created just now, is the record of this decision (after a crash, decide and generate
		// take the value up again from it; discardUnrecordedFirstValue keeps an emergency from reusing it), and no
		// pass before this one staged anything, so the cached status cannot be missing a value: the target write
		// goes on without a status write of its own or an uncached read first.
		s.fresh = true
		return r.hook(StepHookStaged)
	}
	if err := r.persist(ctx, s); err != nil {
		return retry(err)
	}
	return r.hook(StepHookStaged)
}

// produce asks the provider for revision rev's value, one no RotatedSecret has had before: a repeatable provider
// (one that made no non-repeatable vendor call) draws again, up to redraws times; otherwise, or when every draw
// was used before, the rotation stalls with ValueReused and the value is written nowhere.
func (r *RotatedSecretReconciler) produce(ctx context.Context, s *scope, rev int64) (provider.Result, outcome) {
	for draw := 0; ; draw++ {
		ctrl.LoggerFrom(ctx).Info("Generating value", "revision", rev)
		s.setRotating(rotationv1alpha1.ReasonGenerating, fmt.Sprintf("Generating revision %d", rev))
		req := s.providerRequest(rev, r.credentials(s))
		guard := &stagingGuard{r: r, s: s, rev: rev}
		req.Guard, req.IdempotencyKey = guard, idempotencyKey(s, rev)
		res, err := s.provider.Generate(ctx, req)
		if err != nil {
			return res, r.generateFailed(ctx, s, guard, err)
		}
		if r.stopAt(StepHookProviderReturned) {
			return res, retry(errStopped)
		}
		fp := r.Fingerprints.Of(res.Values)
		other, err := r.reusedBy(ctx, fp)
		switch {
		case err != nil:
			return res, retry(err)
		case other == "":
			return res, goOnOutcome()
		case guard.begun || draw+1 >= redraws:
			return res, valueReused(rev, fp, other)
		}
		ctrl.LoggerFrom(ctx).Info("Drawing again: the value was used before", "revision", rev, "usedBy", other)
	}
}

// verify asks the provider to check a candidate and makes sure it has every output a target reads.
func (r *RotatedSecretReconciler) verify(ctx context.Context, s *scope, res provider.Result) error {
	req := s.providerRequest(s.rs.Status.Pending.Revision, r.credentials(s))
	req.Current = nil
	if err := s.provider.Verify(ctx, req, res); err != nil {
		return err
	}
	for i, t := range s.rs.Spec.Targets {
		if _, ok := res.Values[targetOutput(t)]; !ok {
			return fmt.Errorf("spec.targets[%d].from: the provider returned no output %q (it returned: %s)",
				i, targetOutput(t), strings.Join(res.Values.Names(), ", "))
		}
	}
	return nil
}

// generateFailed classifies a failed Generate: a call the vendor may have carried out keeps its create-pending
// marker, and is repeated with the same idempotency key after the backoff while the vendor keeps the key
// (repeatable), else stalls (GenerateIncomplete); a clean failure drops it and counts a failed attempt.
func (r *RotatedSecretReconciler) generateFailed(ctx context.Context, s *scope, guard *stagingGuard, err error) outcome {
	rev := s.rs.Status.Pending.Revision
	if guard.beginErr != nil {
		// The marker could not be recorded, so the vendor was not called: whatever the provider made of it.
		if guard.begun {
			if err := guard.clear(ctx); err != nil {
				return retry(err)
			}
		}
		if apierrors.IsConflict(guard.beginErr) {
			return retry(guard.beginErr) // a stale copy of the staging Secret
		}
		return failed(rotationv1alpha1.ReasonStagingFailed, fmt.Errorf("revision %d: %w", rev, guard.beginErr))
	}
	if guard.begun && provider.Ambiguous(err) {
		since, _ := staging.Pending(s.staging, rev)
		if provider.IsRepeatable(err) && r.repeatable(s, since) {
			return r.providerFailed(s, "generating", rev, fmt.Errorf("%w; it is repeated with the same idempotency key, "+
				"which cannot create a second credential, until %s", err, keyDeadline(s, since).Format(time.RFC3339)))
		}
		return r.generateIncomplete(ctx, s, rev, s.now.UTC().Format(time.RFC3339))
	}
	if guard.begun {
		if err := guard.clear(ctx); err != nil {
			return retry(err)
		}
	}
	if errors.Is(err, provider.ErrBusy) {
		return waitFor(s.now.Add(busyRecheck), rotationv1alpha1.ReasonGenerating,
			fmt.Sprintf("Revision %d: waiting for a free vendor call slot", rev))
	}
	return r.providerFailed(s, "generating", rev, err)
}

// verifyFailed handles a candidate that did not pass Verify. A transient failure (the vendor answered 5xx or
// timed out) keeps the candidate, staged, and verifies it again after the backoff: it is not revoked and minted
// anew. A candidate that failed its check is never promoted: a credential that exists at the vendor is staged
// for the record and queued for revocation, and the rotation goes on with a fresh revision.
func (r *RotatedSecretReconciler) verifyFailed(ctx context.Context, s *scope, res provider.Result, staged bool, err error) outcome {
	p := s.rs.Status.Pending
	if provider.IsTransient(err) || errors.Is(err, provider.ErrBusy) {
		if !staged {
			if _, o := r.stage(ctx, s, p.Revision, res); o.done() {
				return o
			}
		}
		return r.providerFailed(s, "verifying", p.Revision, err)
	}
	failedRev := p.Revision
	if len(res.State) > 0 || staged {
		if !staged {
			if _, o := r.stage(ctx, s, failedRev, res); o.done() {
				return o
			}
		}
		s.queueRevocation(failedRev)
	}
	s.completeHistory(failedRev, rotationv1alpha1.OutcomeFailed, "")
	s.startAttempt(p.Trigger, p.Emergency, p.Message)
	return r.providerFailed(s, "verifying", failedRev, err)
}

// providerFailed classifies a provider error: the operator's own credential refused or missing, a value a person
// has to stage first, or a failed attempt that backs off.
func (r *RotatedSecretReconciler) providerFailed(s *scope, what string, rev int64, err error) outcome {
	var cred *provider.CredentialError
	var awaiting *provider.AwaitingStagedValueError
	switch {
	case tenancy.IsForbidden(err):
		return failed(rotationv1alpha1.ReasonForbidden, err)
	case errors.As(err, &awaiting):
		return warnWaiting(s.now.Add(awaitingRecheck), rotationv1alpha1.ReasonAwaitingStagedValue, fmt.Sprintf(
			"Revision %d needs a new value staged by a person (owner: %s): %s", rev, s.rs.Spec.Owner, awaiting.Error()))
	case errors.As(err, &cred):
		return failed(rotationv1alpha1.ReasonCredentialInvalid, fmt.Errorf("%s revision %d: %w", what, rev, err))
	}
	return failed(rotationv1alpha1.ReasonProviderFailed, fmt.Errorf("%s revision %d: %w", what, rev, err))
}

// secretCredentials reads credentials from Secrets in the RotatedSecret's namespace, past the cache (which
// holds only the operator's own Secrets).
type secretCredentials struct {
	actor     tenancy.Actor
	namespace string
}

// Credential implements provider.Credentials.
func (c secretCredentials) Credential(ctx context.Context, ref rotationv1alpha1.SecretKeyRef) ([]byte, error) {
	var sec corev1.Secret
	err := c.actor.Reader.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: ref.Name}, &sec)
	if apierrors.IsNotFound(err) {
		return nil, &provider.CredentialError{Ref: ref, Err: errors.New("the Secret does not exist")}
	}
	if err != nil {
		return nil, c.actor.Refused(tenancy.Action{Verb: "get", Resource: "secrets", Namespace: c.namespace, Name: ref.Name}, err)
	}
	v := strings.TrimSpace(string(sec.Data[ref.Key]))
	if v == "" {
		return nil, &provider.CredentialError{Ref: ref, Err: errors.New("the key is missing or empty")}
	}
	return []byte(v), nil
}

func (r *RotatedSecretReconciler) credentials(s *scope) provider.Credentials {
	return secretCredentials{actor: s.actor, namespace: s.rs.Namespace}
}

// hook calls StepHook after a persisted step.
func (r *RotatedSecretReconciler) hook(step string) outcome {
	if r.stopAt(step) {
		return retry(errStopped)
	}
	return goOnOutcome()
}
