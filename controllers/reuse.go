package controllers

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// fingerprintIndex indexes RotatedSecrets by every fingerprint they have had: the current one and each in
// status.history (the kept previous one is among them).
const fingerprintIndex = "rotation.tribi.io/fingerprint"

// redraws is how often a repeatable provider (one that made no vendor call) is asked again for a value that was
// already used somewhere.
const redraws = 3

// indexFingerprints lists the fingerprints a RotatedSecret has had.
func indexFingerprints(o client.Object) []string {
	st := o.(*rotationv1alpha1.RotatedSecret).Status
	var out []string
	add := func(fp string) {
		if fp != "" && !slices.Contains(out, fp) {
			out = append(out, fp)
		}
	}
	add(st.CurrentFingerprint)
	for _, h := range st.History {
		add(h.Fingerprint)
	}
	for _, c := range st.Compromised {
		add(c.Fingerprint) // kept beyond the history: a compromised value is refused forever
	}
	return out
}

// reusedBy names the RotatedSecret ("<namespace>/<name>", this one included) that has had a value with
// fingerprint fp, "" when none has: values are never reused across environments or over time. It asks the
// index of the operator's cache, not a list of every object (with shards: the RotatedSecrets of this shard).
func (r *RotatedSecretReconciler) reusedBy(ctx context.Context, fp string) (string, error) {
	var list rotationv1alpha1.RotatedSecretList
	if err := r.List(ctx, &list, client.MatchingFields{fingerprintIndex: fp}); err != nil {
		return "", err
	}
	for i := range list.Items {
		return client.ObjectKeyFromObject(&list.Items[i]).String(), nil
	}
	return "", nil
}

// valueReused stalls a rotation whose new value was used before: it is written nowhere.
func valueReused(rev int64, fp, other string) outcome {
	return stall(rotationv1alpha1.ReasonValueReused, fmt.Sprintf("the new value of revision %d (%s) is a value "+
		"RotatedSecret %s has had; it is written nowhere: stage a value never used before, then set a new %s token",
		rev, fp, other, rotationv1alpha1.RotateAnnotation))
}
