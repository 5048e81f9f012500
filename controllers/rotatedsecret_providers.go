package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/staging"
)

// MirrorWriter writes a value into a write-only external store (GitHub Actions secrets).
type MirrorWriter interface {
	Put(ctx context.Context, token []byte, t rotationv1alpha1.GitHubActionsTarget, value []byte) error
}

// awaitingRecheck is how often a provider waiting for a person to stage a value is asked again, besides the
// watch on the staged Secret.
const awaitingRecheck = 5 * time.Minute

// secretCredentials reads credentials from Secrets in the RotatedSecret's namespace, past the cache (which
// holds only the operator's own Secrets).
type secretCredentials struct {
	reader    client.Reader
	namespace string
}

// Credential implements provider.Credentials.
func (c secretCredentials) Credential(ctx context.Context, ref rotationv1alpha1.SecretKeyRef) ([]byte, error) {
	var sec corev1.Secret
	err := c.reader.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: ref.Name}, &sec)
	if apierrors.IsNotFound(err) {
		return nil, &provider.CredentialError{Ref: ref, Err: errors.New("the Secret does not exist")}
	}
	if err != nil {
		return nil, err
	}
	v := sec.Data[ref.Key]
	if len(strings.TrimSpace(string(v))) == 0 {
		return nil, &provider.CredentialError{Ref: ref, Err: errors.New("the key is missing or empty")}
	}
	return []byte(strings.TrimSpace(string(v))), nil
}

func (r *RotatedSecretReconciler) credentials(s *scope) provider.Credentials {
	return secretCredentials{reader: r.APIReader, namespace: s.rs.Namespace}
}

// stagingGuard is the create-pending guard: Begin writes a marker for the revision into the staging Secret
// before a provider makes a non-repeatable call.
type stagingGuard struct {
	r     *RotatedSecretReconciler
	s     *scope
	rev   int64
	begun bool
}

// Begin implements provider.Guard.
func (g *stagingGuard) Begin(ctx context.Context) error {
	sec := staging.MarkPending(g.s.staging, g.s.rs, g.rev, g.s.now.UTC().Format(time.RFC3339))
	var err error
	if g.s.staging == nil {
		if err = controllerutil.SetControllerReference(g.s.rs, sec, g.r.Scheme()); err != nil {
			return err
		}
		err = g.r.Create(ctx, sec, client.FieldOwner(FieldOwner))
	} else {
		err = g.r.Update(ctx, sec, client.FieldOwner(FieldOwner))
	}
	if err != nil {
		return fmt.Errorf("recording the pending call in the staging Secret: %w", err)
	}
	g.s.staging, g.begun = sec, true
	return nil
}

// clear removes the marker after a call that failed cleanly (the vendor answered with an error, so nothing was
// created). An ambiguous failure (timeout, connection lost after sending) keeps it.
func (g *stagingGuard) clear(ctx context.Context, callErr error) error {
	if !g.begun || ambiguous(callErr) {
		return nil
	}
	sec := staging.ClearPending(g.s.staging, g.rev)
	if err := g.r.Update(ctx, sec, client.FieldOwner(FieldOwner)); err != nil {
		return err
	}
	g.s.staging = sec
	return nil
}

// ambiguous reports whether a failed call may still have been carried out by the vendor.
func ambiguous(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

// generateIncomplete stalls a rotation whose non-repeatable call was started but whose result was never staged.
// A new rotate token is a person's go-ahead: the marker is dropped and the call is made again.
func (r *RotatedSecretReconciler) generateIncomplete(ctx context.Context, s *scope, rev int64, since string) (bool, error) {
	st := &s.rs.Status
	if tok := strings.TrimSpace(s.rs.Annotations[rotationv1alpha1.RotateAnnotation]); tok != "" && tok != st.LastHandledRotateRequest {
		st.LastHandledRotateRequest = tok
		sec := staging.ClearPending(s.staging, rev)
		if err := r.Update(ctx, sec, client.FieldOwner(FieldOwner)); err != nil {
			return false, err
		}
		s.staging = sec
		return false, nil
	}
	return r.stallOn(s, rotationv1alpha1.ReasonGenerateIncomplete, fmt.Sprintf(
		"the provider call for revision %d started at %s but its result was never recorded (the operator stopped in "+
			"between); it is not repeated, so no second credential is minted: check the vendor for a credential created "+
			"then, revoke it if present, then set a new %s token to try again", rev, since, rotationv1alpha1.RotateAnnotation))
}

// providerFailed classifies a provider error: the operator's own credential refused or missing, a value a person
// has to stage first, or a failed attempt that backs off.
func (r *RotatedSecretReconciler) providerFailed(s *scope, what string, rev int64, err error) (bool, error) {
	var cred *provider.CredentialError
	var awaiting *provider.AwaitingStagedValueError
	switch {
	case errors.As(err, &awaiting):
		if c := s.base.Status.Conditions; !hasReason(c, rotationv1alpha1.ReasonAwaitingStagedValue) {
			r.event(s, corev1.EventTypeWarning, rotationv1alpha1.ReasonAwaitingStagedValue, "Rotate",
				"Revision %d needs a new value staged by a person (owner: %s): %s", rev, s.rs.Spec.Owner, awaiting.Error())
		}
		r.setRotating(s, rotationv1alpha1.ReasonAwaitingStagedValue, fmt.Sprintf("Revision %d: %s", rev, awaiting.Error()))
		s.wakeAt(s.now.Add(awaitingRecheck), 0)
		return true, nil
	case errors.As(err, &cred):
		return r.fail(s, rotationv1alpha1.ReasonCredentialInvalid, fmt.Errorf("%s revision %d: %w", what, rev, err))
	}
	return r.fail(s, rotationv1alpha1.ReasonProviderFailed, fmt.Errorf("%s revision %d: %w", what, rev, err))
}

func hasReason(conds []metav1.Condition, reason string) bool {
	for _, c := range conds {
		if c.Reason == reason {
			return true
		}
	}
	return false
}

// mirrorTargets writes values of rev to every GitHub Actions target that does not hold rev yet, and records
// each in status.mirrors (the stores are write-only: status is the only record of what they hold).
func (r *RotatedSecretReconciler) mirrorTargets(ctx context.Context, s *scope, rev int64, values provider.Values) error {
	for _, t := range s.rs.Spec.Targets {
		if t.GitHubActions == nil {
			continue
		}
		id := mirrorID(*t.GitHubActions)
		if mirroredRevision(s.rs.Status, id) == rev {
			continue
		}
		if r.GitHub == nil {
			return fmt.Errorf("target %s: GitHub mirroring is not enabled in this operator", id)
		}
		token, err := r.credentials(s).Credential(ctx, t.GitHubActions.TokenSecretRef)
		if err != nil {
			return fmt.Errorf("target %s: %w", id, err)
		}
		if err := r.GitHub.Put(ctx, token, *t.GitHubActions, values[targetOutput(t)]); err != nil {
			return err
		}
		setMirror(&s.rs.Status, id, rev)
	}
	return nil
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

// mirrorID names a GitHub Actions target in status and messages.
func mirrorID(t rotationv1alpha1.GitHubActionsTarget) string {
	if t.Environment != "" {
		return "github:" + t.Repository + "/" + t.Environment + "/" + t.Name
	}
	return "github:" + t.Repository + "/" + t.Name
}
