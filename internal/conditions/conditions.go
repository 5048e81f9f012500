// Package conditions sets the status conditions of a RotatedSecret, always with the generation they describe.
package conditions

import (
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// Set sets one condition on rs, recording rs's generation as its observedGeneration. The transition time changes
// only when the status does.
func Set(rs *rotationv1alpha1.RotatedSecret, condType string, status metav1.ConditionStatus, reason, message string) {
	SetAt(rs, condType, status, reason, message, time.Time{})
}

// SetAt is Set with the time of a status change (lastTransitionTime) taken from the reconciler's clock; a zero
// time means now.
func SetAt(rs *rotationv1alpha1.RotatedSecret, condType string, status metav1.ConditionStatus, reason, message string, now time.Time) {
	c := metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            Bound(message),
		ObservedGeneration: rs.Generation,
	}
	if !now.IsZero() {
		c.LastTransitionTime = metav1.NewTime(now)
	}
	meta.SetStatusCondition(&rs.Status.Conditions, c)
}

// Delete removes a condition.
func Delete(rs *rotationv1alpha1.RotatedSecret, condType string) {
	meta.RemoveStatusCondition(&rs.Status.Conditions, condType)
}

// IsTrue reports whether the condition is present and True.
func IsTrue(rs *rotationv1alpha1.RotatedSecret, condType string) bool {
	return meta.IsStatusConditionTrue(rs.Status.Conditions, condType)
}

// Get returns the condition or nil.
func Get(rs *rotationv1alpha1.RotatedSecret, condType string) *metav1.Condition {
	return meta.FindStatusCondition(rs.Status.Conditions, condType)
}

// MaxMessage is the most bytes of a condition message or Event note (the events.k8s.io API refuses notes over
// 1 KiB): a longer text is cut at a character boundary and ends with "…".
const MaxMessage = 1024

// Bound cuts text to MaxMessage bytes.
func Bound(text string) string {
	if len(text) <= MaxMessage {
		return text
	}
	cut := MaxMessage - len("…")
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}
