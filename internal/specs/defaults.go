// Package specs reads a RotatedSecret's spec as the operator does: the defaults of optional fields, the names it
// derives (Jobs), and the checks the CRD schema cannot make, which stall a RotatedSecret with InvalidSpec. The
// reconciler and `kubectl rotation plan` (internal/plan) both call it, so the plan refuses exactly what the operator
// would. Everything here is pure: no API server, no clock.
package specs

import (
	"fmt"
	"slices"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// TargetNamespace is the namespace of a Kubernetes target: its own, else the RotatedSecret's.
func TargetNamespace(rs *rotationv1alpha1.RotatedSecret, t rotationv1alpha1.Target) string {
	if t.Namespace != "" {
		return t.Namespace
	}
	return rs.Namespace
}

// TargetOutput is the provider output a target receives (default "value").
func TargetOutput(t rotationv1alpha1.Target) string {
	if t.From != "" {
		return t.From
	}
	return provider.DefaultOutput
}

// KeepPrevious reports whether the previous value is kept under the suffix after a rotation.
func KeepPrevious(rs *rotationv1alpha1.RotatedSecret) bool {
	return rs.Spec.Previous != nil && rs.Spec.Previous.Keep
}

// PreviousSuffix is appended to each target key for the previous value (default "_PREVIOUS").
func PreviousSuffix(rs *rotationv1alpha1.RotatedSecret) string {
	if rs.Spec.Previous != nil && rs.Spec.Previous.Suffix != "" {
		return rs.Spec.Previous.Suffix
	}
	return "_PREVIOUS"
}

// GracePeriod is how long the previous value is kept (default 24h).
func GracePeriod(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.Duration {
	if rs.Spec.Previous != nil && rs.Spec.Previous.GracePeriod != "" {
		return rs.Spec.Previous.GracePeriod
	}
	return "24h"
}

// StageTimeout is how long a stage may take (default 10m).
func StageTimeout(stage rotationv1alpha1.RolloutStage) rotationv1alpha1.Duration {
	if stage.Timeout != "" {
		return stage.Timeout
	}
	return "10m"
}

// ValidationTimeout is how long the validation Jobs may take together (default 15m).
func ValidationTimeout(v *rotationv1alpha1.ValidationSpec) rotationv1alpha1.Duration {
	if v.Timeout != "" {
		return v.Timeout
	}
	return "15m"
}

// PostRotationTimeout is how long the post-rotation Jobs may take (default 15m).
func PostRotationTimeout(pr *rotationv1alpha1.PostRotationSpec) rotationv1alpha1.Duration {
	if pr.Timeout != "" {
		return pr.Timeout
	}
	return "15m"
}

// PurgeTimeout is how long an emergency's purge Jobs may take (default 15m).
func PurgeTimeout(e *rotationv1alpha1.EmergencySpec) rotationv1alpha1.Duration {
	if e.JobsTimeout != "" {
		return e.JobsTimeout
	}
	return "15m"
}

// OnFailure is what a failed stage or validation does (default Rollback).
func OnFailure(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.FailurePolicy {
	if rs.Spec.Validation != nil && rs.Spec.Validation.OnFailure != "" {
		return rs.Spec.Validation.OnFailure
	}
	return rotationv1alpha1.FailureRollback
}

// MaxDelay is how long a due rotation waits for a maintenance window (default 7d).
func MaxDelay(rs *rotationv1alpha1.RotatedSecret) rotationv1alpha1.Duration {
	if rs.Spec.Schedule != nil && rs.Spec.Schedule.MaxDelay != "" {
		return rs.Spec.Schedule.MaxDelay
	}
	return "7d"
}

// JobServiceAccount is the ServiceAccount a Job's pods run as ("default" when the template names none).
func JobServiceAccount(j rotationv1alpha1.ValidationJob) string {
	if sa := j.Template.Spec.Template.Spec.ServiceAccountName; sa != "" {
		return sa
	}
	return "default"
}

// ValidationJobName names a validation Job: <rotatedsecret>-<job>-r<revision>.
func ValidationJobName(rsName, job string, rev int64) string {
	return fmt.Sprintf("%s-%s-r%d", rsName, job, rev)
}

// PostJobName names a post-rotation Job: <rotatedsecret>-post-<job>-r<revision>.
func PostJobName(rsName, job string, rev int64) string {
	return fmt.Sprintf("%s-post-%s-r%d", rsName, job, rev)
}

// PurgeJobName names an emergency's purge Job: <rotatedsecret>-purge-<job>-r<revision>.
func PurgeJobName(rsName, job string, rev int64) string {
	return fmt.Sprintf("%s-purge-%s-r%d", rsName, job, rev)
}

// MirrorID names a GitHub Actions target in status and messages: github:<owner>/<repo>[/<environment>]/<name>.
func MirrorID(t rotationv1alpha1.GitHubActionsTarget) string {
	if t.Environment != "" {
		return "github:" + t.Repository + "/" + t.Environment + "/" + t.Name
	}
	return "github:" + t.Repository + "/" + t.Name
}

// HasMirror reports whether a target is a GitHub Actions secret.
func HasMirror(rs *rotationv1alpha1.RotatedSecret) bool {
	return slices.ContainsFunc(rs.Spec.Targets, func(t rotationv1alpha1.Target) bool { return t.GitHubActions != nil })
}

// NextRevision is one past every revision used so far: a rolled-back revision is never reused, so its validation
// Jobs and staged value cannot be mistaken for the next attempt's.
func NextRevision(st rotationv1alpha1.RotatedSecretStatus) int64 {
	rev := st.CurrentRevision
	if st.Pending != nil {
		rev = max(rev, st.Pending.Revision)
	}
	for _, h := range st.History {
		rev = max(rev, h.Revision)
	}
	for _, q := range st.Revocations {
		rev = max(rev, q.Revision)
	}
	return rev + 1
}
