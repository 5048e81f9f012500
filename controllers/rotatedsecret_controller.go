// Package controllers holds the RotatedSecret reconciler.
package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/metrics"
	"github.com/tribi/secret-rotator/internal/notify"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// targetIndex indexes RotatedSecrets by the "<namespace>/<name>" of every Secret they write.
const targetIndex = "rotation.tribi.io/target"

// RotatedSecretReconciler rotates the values declared by RotatedSecrets.
type RotatedSecretReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	client.Client
	// APIReader reads past the cache; used only to confirm what the cache suggests (drift, a lost staged value).
	APIReader client.Reader
	// Recorder emits events.k8s.io Events; their reasons equal the condition reasons.
	Recorder events.EventRecorder
	// Clock is read once per reconcile (a fake clock in tests).
	Clock clock.PassiveClock
	// Providers produce values, by provider kind.
	Providers provider.Registry
	// Fingerprints identify values in status without revealing them.
	Fingerprints *fingerprint.Keyer
	// Identities gives the identity the operator acts as for each RotatedSecret (its ServiceAccount,
	// impersonated); nil means the operator's own identity for every RotatedSecret (single-tenant mode).
	Identities *tenancy.Identities
	// Rules are the admin's guard rails (--no-cross-namespace-refs, --protected-namespaces); the zero value allows
	// everything.
	Rules tenancy.Rules
	// GitHub writes GitHub Actions targets; nil disables them (a target naming one fails with a clear message).
	GitHub MirrorWriter
	// Notifier delivers spec.notify webhooks; nil disables them (a notification fails with a clear message).
	Notifier *notify.Sender
	// MaxConcurrentRollouts bounds the rotations with a rollout in progress at once (--max-concurrent-rollouts);
	// 0 means no bound. Others wait in phase Queued, oldest due first; an emergency never waits.
	MaxConcurrentRollouts int
	// slots are the rollouts this process let start (see admit).
	slots rolloutSlots
	// reconciles counts the reconciles this process started (Reconciles).
	reconciles atomic.Int64
	// Policy decides whether to rotate; policy.DefaultChain() when nil.
	Policy policy.Chain
	// StepHook, when set, is called after every write of a rotation (see the StepHook constants). Returning true
	// ends the reconcile at once and writes nothing more, as if the process had died there. Tests only.
	StepHook func(step string) bool
}

// conflictRetry is how soon a reconcile that met a stale cache runs again.
const conflictRetry = 200 * time.Millisecond

// tokenRecheck is how soon a rotate or emergency token that waited for a commit is looked at: time for the
// commit's status write to reach the cache, so the next pass does not meet it stale.
const tokenRecheck = 50 * time.Millisecond

// The operator's own ClusterRole: its API, list/watch for its caches, Events, and impersonation. Everything it does
// for a RotatedSecret (staging and target writes, restarts, Jobs, credential reads) is done impersonating the
// RotatedSecret's ServiceAccount, whose Role decides (config/tenant). Its own namespace (leader election, the
// fingerprint key) has a Role of its own (config/rbac/own-namespace). Single-tenant mode needs more:
// config/single-tenant.
// +kubebuilder:rbac:groups=rotation.tribi.io,resources=rotatedsecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=rotation.tribi.io,resources=rotatedsecrets/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=impersonate

// phase is one step of Reconcile. It returns one outcome: go on, wait, stall, a failed attempt or a transient
// error (outcome.go); the first that is not "go on" ends the pass.
type phase func(ctx context.Context, s *scope) outcome

// Reconciles is how many reconciles this process has started: it stands still while the operator is idle.
func (r *RotatedSecretReconciler) Reconciles() int64 { return r.reconciles.Load() }

// Reconcile runs the rotation phases of one RotatedSecret in order. Each phase is idempotent for a revision and
// persists what a restart needs before the next outside effect, so a crash at any point resumes the same
// rotation (docs/design.md has the table).
func (r *RotatedSecretReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	r.reconciles.Add(1)
	if r.stopAt("Start") {
		return ctrl.Result{}, nil
	}
	rs := &rotationv1alpha1.RotatedSecret{}
	if err := r.Get(ctx, req.NamespacedName, rs); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.Forget(req.Namespace, req.Name)
			r.slots.release(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rs.DeletionTimestamp.IsZero() {
		// The staging Secret is garbage-collected through its owner reference; targets keep their last value.
		return ctrl.Result{}, nil
	}
	s := &scope{rs: rs, base: rs.DeepCopy(), now: r.Clock.Now()}
	defer func() {
		switch {
		case errors.Is(retErr, errStopped):
			retErr = nil
		case errors.Is(retErr, errRetry):
			retErr, res = nil, ctrl.Result{RequeueAfter: conflictRetry}
		default:
			if err := r.persist(ctx, s); err != nil && retErr == nil {
				retErr = err
			}
			if s.base.Status.Pending == nil {
				r.slots.release(req.NamespacedName)
			}
			if retErr == nil {
				res = s.result()
			}
		}
	}()

	phases := []phase{
		r.checkSpec,       // parse the spec; refuse what cannot work (InvalidSpec)
		r.deliver,         // send the notifications in the outbox (never holds a rotation)
		r.loadStaging,     // read the staging Secret
		r.revertOverrides, // revert the emergency overrides whose duration ended, then restart the stages
		r.preempt,         // an emergency token discards the rotation in progress or halted (compromised: never again)
		r.resumeHalted,    // a halted rotation waits for a person (onFailure: Rollback rolls it back)
		r.backoff,         // after a failed attempt, hold the next one until status says it may run
		r.when,            // hold a due rotation for its window, its notice and its dependencies
		r.decide,          // start a rotation, or carry on with the pending one
		r.applyOverrides,  // an emergency applies its temporary overrides before anything restarts
		r.revokeEarly,     // an emergency revokes the compromised credential first (before or after the new one is issued)
		r.generate,        // produce, verify and stage the new value (staging Secret), then record it (status)
		r.revokeEarly,     // (a provider that revokes only once the replacement exists: the Stripe webhook's twin)
		r.writeTargets,    // pre-flight every target and mirror, then write the staged value to all of them
		r.rolloutPhase,    // restart the workloads stage by stage, each waiting for health (status.rollout)
		r.validatePhase,   // run the validation Jobs and wait for them (status.validation)
		r.rollbackPhase,   // after a failure: current value back everywhere, stages again, RolledBack
		r.commit,          // make the confirmed revision current (status)
		r.expirePrevious,  // remove previous-value keys once the grace period is over (queues its revocation)
		r.observePhase,    // watch the workloads for spec.observe after a commit (Degraded; roll back if asked)
		r.postRotatePhase, // run the post-rotation Jobs of the committed revision (they never roll back)
		r.purgePhase,      // run an emergency's purge Jobs once its new value is in service (they never roll back)
		r.revokePhase,     // revoke the old credential (or a failed rotation's new one) at the provider
		r.syncTargets,     // restore targets that drifted from the current value
	}
	for _, p := range phases {
		if o := p(ctx, s); o.done() {
			return ctrl.Result{}, r.conclude(ctx, s, o)
		}
	}
	return ctrl.Result{}, nil
}

// stopAt calls the StepHook.
func (r *RotatedSecretReconciler) stopAt(step string) bool {
	return r.StepHook != nil && r.StepHook(step)
}

// SetupWithManager registers the reconciler: it watches RotatedSecrets (spec, labels and annotations, never its
// own status writes) and the Secrets it manages, and nothing else. maxConcurrent reconciles run in parallel; one
// object is never reconciled twice at once.
func (r *RotatedSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, maxConcurrent int) error {
	if r.Policy == nil {
		r.Policy = policy.DefaultChain()
	}
	if err := r.addIndexes(ctx, mgr.GetCache()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&rotationv1alpha1.RotatedSecret{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Watches(&corev1.Secret{}, r.secretHandler(), builder.WithPredicates(notWrittenByOperator())).
		// A dependency's rotation (its status) wakes the RotatedSecrets that wait for it.
		Watches(&rotationv1alpha1.RotatedSecret{}, handler.EnqueueRequestsFromMapFunc(r.dependents)).
		Owns(&batchv1.Job{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(workloadToRotatedSecrets)).
		Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(workloadToRotatedSecrets)).
		Watches(&appsv1.DaemonSet{}, handler.EnqueueRequestsFromMapFunc(workloadToRotatedSecrets)).
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).
		Complete(r)
}

// slim drops from every cached object what the operator never reads and that makes up much of its size: the field
// sets of managedFields (who wrote last, and when, stay: the watches need them) and kubectl's last-applied
// annotation. Nothing the operator writes is built from those parts of a cached object (staging.Write sends no
// managedFields; status and restarts are patches of what changed).
func slim(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil
	}
	if mfs := o.GetManagedFields(); len(mfs) > 0 {
		kept := make([]metav1.ManagedFieldsEntry, len(mfs))
		for i, mf := range mfs {
			kept[i] = metav1.ManagedFieldsEntry{Manager: mf.Manager, Operation: mf.Operation, APIVersion: mf.APIVersion,
				Time: mf.Time, Subresource: mf.Subresource}
		}
		o.SetManagedFields(kept)
	}
	if a := o.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
		delete(a, corev1.LastAppliedConfigAnnotation)
		o.SetAnnotations(a)
	}
	return o, nil
}

// CacheOptions limits the manager's Secret cache to the Secrets the operator writes (labelled
// rotation.tribi.io/managed=true): it never holds, or needs RBAC to list, any other Secret's value. The Job cache
// holds only the operator's validation Jobs. With a shard selector (nil or empty: every RotatedSecret) the
// RotatedSecret cache holds only the RotatedSecrets that match it, so an operator Deployment handles its shard
// and nothing else: events about other objects map to RotatedSecrets it does not see, and are dropped. Every
// informer's watch lasts 30 to 60 minutes (longWatches).
func CacheOptions(shard labels.Selector) cache.Options {
	ownJobs, err := labels.NewRequirement(rotationv1alpha1.RotatedSecretLabel, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key: cannot fail
	}
	opts := cache.Options{DefaultTransform: slim, NewInformer: longWatches, ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{rotationv1alpha1.ManagedLabel: "true"})},
		// Only the validation Jobs the operator created (they carry the label), not every Job of the cluster.
		&batchv1.Job{}: {Label: labels.NewSelector().Add(*ownJobs)},
	}}
	if shard != nil && !shard.Empty() {
		opts.ByObject[&rotationv1alpha1.RotatedSecret{}] = cache.ByObject{Label: shard}
	}
	return opts
}
