package controllers

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// minStepTimeout is the shortest stage or validation timeout: less cannot see a rollout through.
const minStepTimeout = time.Minute

// maxJobName keeps validation Job names usable as label values (the Job controller labels pods with them).
const maxJobName = 63

// outputName is what an output may be called: it becomes part of a staging Secret key ("r<revision>.<output>").
var outputName = regexp.MustCompile(`^[a-zA-Z0-9_]{1,63}$`)

// checkSpec parses the spec and finds what the CRD schema cannot: anything here stalls the object with
// InvalidSpec until its spec changes, before any vendor call or write.
func (r *RotatedSecretReconciler) checkSpec(ctx context.Context, s *scope) outcome {
	spec := s.rs.Spec
	if o := r.checkRules(s.rs); o.done() {
		return o
	}
	var err error
	if s.actor, err = r.actorFor(s.rs); err != nil {
		return retry(err)
	}
	if s.ttl, err = spec.TTL.Parse(); err != nil {
		return invalid("spec.ttl: %v", err)
	}
	if o := r.checkWhen(ctx, s); o.done() {
		return o
	}
	if keepPrevious(s.rs) {
		if s.grace, err = gracePeriod(s.rs).Parse(); err != nil {
			return invalid("spec.previous.gracePeriod: %v", err)
		}
	}
	if s.provider, err = r.Providers.For(spec.Provider); err != nil {
		return invalid("spec.provider: %v", err)
	}
	if err := s.provider.Check(spec.Provider); err != nil {
		return invalid("%v", err)
	}
	outputs := s.provider.Outputs(spec.Provider)
	for _, name := range outputs {
		if !outputName.MatchString(name) {
			return invalid("spec.provider: output %q cannot be a Secret key here: use 1 to 63 letters, digits or _", name)
		}
	}
	seen := map[string]bool{}
	for i, t := range spec.Targets {
		if !slices.Contains(outputs, targetOutput(t)) {
			// Caught before any vendor call: a credential minted for an output nobody can write would be lost.
			return invalid("spec.targets[%d].from: the provider has no output %q (it has: %s)",
				i, targetOutput(t), strings.Join(outputs, ", "))
		}
		id, what := targetNamespace(s.rs, t)+"/"+t.SecretName+"/"+t.Key, fmt.Sprintf("key %s of Secret %s/%s", t.Key, targetNamespace(s.rs, t), t.SecretName)
		if t.GitHubActions != nil {
			id, what = mirrorID(*t.GitHubActions), "GitHub secret "+mirrorID(*t.GitHubActions)
		}
		if seen[id] {
			return invalid("spec.targets[%d]: %s is already a target", i, what)
		}
		seen[id] = true
	}
	if o := checkRollout(spec.Rollout); o.done() {
		return o
	}
	if o := r.checkOverrides(ctx, s.rs); o.done() {
		return o
	}
	return r.checkValidation(ctx, s)
}

// checkRollout checks the stages: timeouts, selectors and workload references.
func checkRollout(ro *rotationv1alpha1.RolloutSpec) outcome {
	if ro == nil {
		return goOnOutcome()
	}
	for i, stage := range ro.Stages {
		field := fmt.Sprintf("spec.rollout.stages[%d]", i)
		if msg := checkTimeout(stageTimeout(stage)); msg != "" {
			return invalid("%s.timeout: %s", field, msg)
		}
		if stage.Selector != nil {
			if _, err := metav1.LabelSelectorAsSelector(stage.Selector); err != nil {
				return invalid("%s.selector: %v", field, err)
			}
		}
		for j, w := range stage.Workloads {
			if errs := validation.IsDNS1123Subdomain(w.Name); len(errs) > 0 {
				return invalid("%s.workloads[%d].name: %s", field, j, strings.Join(errs, "; "))
			}
			if errs := validation.IsDNS1123Label(w.Namespace); w.Namespace != "" && len(errs) > 0 {
				return invalid("%s.workloads[%d].namespace: %s", field, j, strings.Join(errs, "; "))
			}
		}
	}
	return goOnOutcome()
}

// checkValidation checks the validation Jobs: the timeout, names that fit, templates that leave name, namespace
// and owner to the operator, and (once per spec generation, while nothing is pending, with a server-side dry
// run) templates the API server accepts.
func (r *RotatedSecretReconciler) checkValidation(ctx context.Context, s *scope) outcome {
	if v := s.rs.Spec.Validation; v != nil {
		if msg := checkTimeout(validationTimeout(v)); msg != "" {
			return invalid("spec.validation.timeout: %s", msg)
		}
		if o := r.checkJobs(ctx, s, "spec.validation", v.Jobs, validationJobName); o.done() {
			return o
		}
	}
	if pr := s.rs.Spec.PostRotation; pr != nil {
		if msg := checkTimeout(postRotationTimeout(pr)); msg != "" {
			return invalid("spec.postRotation.timeout: %s", msg)
		}
		if o := r.checkJobs(ctx, s, "spec.postRotation", pr.Jobs, postJobName); o.done() {
			return o
		}
	}
	if e := s.rs.Spec.Emergency; e != nil {
		if msg := checkTimeout(purgeTimeout(e)); msg != "" {
			return invalid("spec.emergency.jobsTimeout: %s", msg)
		}
		return r.checkJobs(ctx, s, "spec.emergency", e.Jobs, purgeJobName)
	}
	return goOnOutcome()
}

// checkJobs checks the Jobs of field (validation or post-rotation) named by name: names that fit, templates that
// leave name, namespace and owner to the operator, and (once per spec generation, while nothing is pending, with
// a server-side dry run as the RotatedSecret's actor) templates the API server accepts.
func (r *RotatedSecretReconciler) checkJobs(ctx context.Context, s *scope, field string, jobs []rotationv1alpha1.ValidationJob,
	name func(rs, job string, rev int64) string) outcome {
	rev := nextRevision(s.rs.Status)
	for i, j := range jobs {
		if n := name(s.rs.Name, j.Name, rev+999999); len(n) > maxJobName {
			return invalid("%s.jobs[%d]: Job names like %s would exceed %d characters; shorten the job name",
				field, i, n, maxJobName)
		}
		m := j.Template.ObjectMeta
		if m.Name != "" || m.GenerateName != "" || m.Namespace != "" || len(m.OwnerReferences) > 0 {
			return invalid("%s.jobs[%d].template.metadata: name, generateName, namespace and "+
				"ownerReferences are set by the operator; remove them", field, i)
		}
	}
	if s.rs.Generation == s.rs.Status.ObservedGeneration || s.rs.Status.Pending != nil {
		return goOnOutcome()
	}
	for i, j := range jobs {
		job, err := r.buildJob(s.rs, j, name(s.rs.Name, j.Name, rev), rev)
		if err == nil {
			err = s.actor.Writer.Create(ctx, job, client.DryRunAll, client.FieldOwner(FieldOwner))
		}
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			return invalid("%s.jobs[%d].template: the API server refuses it: %v", field, i, err)
		}
	}
	return goOnOutcome()
}

// checkTimeout says what is wrong with a stage or validation timeout, "" when nothing is.
func checkTimeout(d rotationv1alpha1.Duration) string {
	t, err := d.Parse()
	switch {
	case err != nil:
		return err.Error()
	case t < minStepTimeout:
		return fmt.Sprintf("%q is under %s", d, minStepTimeout)
	}
	return ""
}

func targetNamespace(rs *rotationv1alpha1.RotatedSecret, t rotationv1alpha1.Target) string {
	if t.Namespace != "" {
		return t.Namespace
	}
	return rs.Namespace
}

func targetOutput(t rotationv1alpha1.Target) string {
	if t.From != "" {
		return t.From
	}
	return provider.DefaultOutput
}

func keepPrevious(rs *rotationv1alpha1.RotatedSecret) bool {
	return rs.Spec.Previous != nil && rs.Spec.Previous.Keep
}

func previousSuffix(rs *rotationv1alpha1.RotatedSecret) string {
	if rs.Spec.Previous != nil && rs.Spec.Previous.Suffix != "" {
		return rs.Spec.Previous.Suffix
	}
	return "_PREVIOUS"
}

func gracePeriod(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.Duration {
	if rs.Spec.Previous != nil && rs.Spec.Previous.GracePeriod != "" {
		return rs.Spec.Previous.GracePeriod
	}
	return "24h"
}

func stageTimeout(stage rotationv1alpha1.RolloutStage) rotationv1alpha1.Duration {
	if stage.Timeout != "" {
		return stage.Timeout
	}
	return "10m"
}

func validationTimeout(v *rotationv1alpha1.ValidationSpec) rotationv1alpha1.Duration {
	if v.Timeout != "" {
		return v.Timeout
	}
	return "15m"
}

func postRotationTimeout(pr *rotationv1alpha1.PostRotationSpec) rotationv1alpha1.Duration {
	if pr.Timeout != "" {
		return pr.Timeout
	}
	return "15m"
}

func purgeTimeout(e *rotationv1alpha1.EmergencySpec) rotationv1alpha1.Duration {
	if e.JobsTimeout != "" {
		return e.JobsTimeout
	}
	return "15m"
}

func onFailure(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.FailurePolicy {
	if rs.Spec.Validation != nil && rs.Spec.Validation.OnFailure != "" {
		return rs.Spec.Validation.OnFailure
	}
	return rotationv1alpha1.FailureRollback
}

func containsString(list []string, s string) bool { return slices.Contains(list, s) }
