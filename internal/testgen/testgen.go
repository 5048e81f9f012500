// Package testgen builds RotatedSecrets for tests: testgen.RotatedSecret("jwt", "backend", testgen.WithTTL("2h")).
package testgen

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// Option changes a RotatedSecret under construction.
type Option func(*rotationv1alpha1.RotatedSecret)

// RotatedSecret returns a valid RotatedSecret: random hex 32 bytes, ttl 90d, owner "Backend lead", and one
// target key named like the object (upper-cased by WithTarget when given) unless options add targets.
func RotatedSecret(name, namespace string, opts ...Option) *rotationv1alpha1.RotatedSecret {
	rs := &rotationv1alpha1.RotatedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: rotationv1alpha1.RotatedSecretSpec{
			Owner:    "Backend lead",
			TTL:      "90d",
			Provider: rotationv1alpha1.ProviderSpec{Random: &rotationv1alpha1.RandomProvider{Length: 32, Encoding: rotationv1alpha1.EncodingHex}},
		},
	}
	for _, o := range opts {
		o(rs)
	}
	if len(rs.Spec.Targets) == 0 {
		rs.Spec.Targets = []rotationv1alpha1.Target{{SecretName: "backend-env", Key: "VALUE"}}
	}
	return rs
}

// WithTTL sets spec.ttl.
func WithTTL(ttl string) Option {
	return func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.TTL = rotationv1alpha1.Duration(ttl) }
}

// WithTarget adds a target key in a Secret of the object's namespace.
func WithTarget(secretName, key string) Option {
	return WithTargetIn("", secretName, key)
}

// WithTargetIn adds a target key in a Secret of another namespace ("" for the object's).
func WithTargetIn(namespace, secretName, key string) Option {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Spec.Targets = append(rs.Spec.Targets, rotationv1alpha1.Target{Namespace: namespace, SecretName: secretName, Key: key})
	}
}

// WithPrevious keeps the previous value under suffix for grace.
func WithPrevious(suffix, grace string) Option {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Spec.Previous = &rotationv1alpha1.PreviousSpec{Keep: true, Suffix: suffix, GracePeriod: rotationv1alpha1.Duration(grace)}
	}
}

// WithHistoryLimit sets spec.revisionHistoryLimit.
func WithHistoryLimit(n int32) Option {
	return func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.RevisionHistoryLimit = ptr.To(n) }
}

// Suspended sets spec.suspend.
func Suspended(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.Suspend = true }

// Stage returns a rollout stage of Deployments in the object's namespace.
func Stage(name, timeout string, deployments ...string) rotationv1alpha1.RolloutStage {
	st := rotationv1alpha1.RolloutStage{Name: name, Timeout: rotationv1alpha1.Duration(timeout)}
	for _, d := range deployments {
		st.Workloads = append(st.Workloads, rotationv1alpha1.WorkloadRef{Kind: rotationv1alpha1.KindDeployment, Name: d})
	}
	return st
}

// WithRollout sets spec.rollout.
func WithRollout(stages ...rotationv1alpha1.RolloutStage) Option {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Spec.Rollout = &rotationv1alpha1.RolloutSpec{Stages: stages}
	}
}

// WithValidation sets spec.validation with one Job per name, each running image busybox.
func WithValidation(onFailure rotationv1alpha1.FailurePolicy, timeout string, jobs ...string) Option {
	return func(rs *rotationv1alpha1.RotatedSecret) {
		v := &rotationv1alpha1.ValidationSpec{OnFailure: onFailure, Timeout: rotationv1alpha1.Duration(timeout)}
		for _, name := range jobs {
			v.Jobs = append(v.Jobs, rotationv1alpha1.ValidationJob{Name: name, Template: JobTemplate(nil)})
		}
		rs.Spec.Validation = v
	}
}

// JobTemplate is a minimal smoke-test Job template; podLabels go on its pods (e.g. kwok's failure label).
func JobTemplate(podLabels map[string]string) batchv1.JobTemplateSpec {
	return batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
		BackoffLimit: ptr.To(int32(0)),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "smoke", Image: "busybox", Command: []string{"true"}}},
			},
		},
	}}
}

// Deployment returns a Deployment with replicas pods labelled app=<name>.
func Deployment(name, namespace string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}
