package plan

import (
	"context"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// targets lists the Secret keys and GitHub secrets the rotation writes (sink.Writes, as writeTargets groups them)
// and what the operator's pre-flight of each would find: a Secret it never writes (TargetRefused), a key another
// field manager owns (TargetOwnedElsewhere), a namespace that does not exist (TargetNamespaceNotFound).
func (b *builder) targets(ctx context.Context) error {
	rs := b.rs
	outputs, previous := provider.Values{}, provider.Values(nil)
	for _, t := range rs.Spec.Targets {
		outputs[specs.TargetOutput(t)] = nil
	}
	if specs.KeepPrevious(rs) && !b.emergency && rs.Status.CurrentRevision > 0 && !compromised(rs, rs.Status.CurrentRevision) {
		previous = outputs // the value in service goes under <key><suffix>
	}
	from := map[string]string{}
	for _, t := range rs.Spec.Targets {
		if t.GitHubActions == nil {
			id := specs.TargetNamespace(rs, t) + "/" + t.SecretName + "/"
			from[id+t.Key], from[id+t.Key+specs.PreviousSuffix(rs)] = specs.TargetOutput(t), specs.TargetOutput(t)
		}
	}
	for _, w := range sink.Writes(rs, outputs, previous) {
		tgt, err := b.target(ctx, w, from)
		if err != nil {
			return err
		}
		b.r.Targets = append(b.r.Targets, tgt)
	}
	for _, t := range rs.Spec.Targets {
		if g := t.GitHubActions; g != nil {
			id := specs.MirrorID(*g)
			m := Mirror{Target: id, Token: g.TokenSecretRef.Name + "/" + g.TokenSecretRef.Key}
			for _, s := range rs.Status.Mirrors {
				if s.Target == id {
					m.Revision = s.Revision
				}
			}
			b.r.Mirrors = append(b.r.Mirrors, m)
			b.want(secretRead(rs.Namespace, g.TokenSecretRef.Name), "GitHub token of "+id, false)
		}
	}
	return nil
}

// target reads one target Secret as the person and describes what writing w into it means.
func (b *builder) target(ctx context.Context, w sink.SecretWrite, from map[string]string) (Target, error) {
	tgt := Target{Secret: w.String()}
	sec := &corev1.Secret{}
	err := b.in.Client.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: w.Name}, sec)
	switch {
	case apierrors.IsNotFound(err):
		sec = nil
		b.namespaceExists(ctx, w)
	case err != nil:
		tgt.Unknown, sec = true, nil
		b.note("target Secret %s could not be read, so it was not checked: %v", w, err)
	default:
		tgt.Exists = true
	}
	owners := sink.Owners(sec, sink.FieldManager(b.rs.Namespace, b.rs.Name), w)
	for _, k := range w.Keys() {
		key := Key{Name: k, From: from[w.String()+"/"+k], Previous: !slices.Contains(targetKeys(b.rs, w), k)}
		if sec != nil {
			_, key.Exists = sec.Data[k]
		}
		for _, o := range owners {
			if o.Key == k {
				key.OwnedBy = append(key.OwnedBy, o.Manager)
			}
		}
		tgt.Keys = append(tgt.Keys, key)
	}
	sort.Slice(tgt.Keys, func(i, j int) bool { return tgt.Keys[i].Name < tgt.Keys[j].Name })
	// The operator's pre-flight (readTarget): a Secret it never writes stalls before anything is written.
	why := sink.Refused(sec)
	if why == "" {
		why = sink.Reserved(w.Namespace, w.Name, sec, b.rotatedSecretExists(ctx))
	}
	if why != "" {
		b.refuse(rotationv1alpha1.ReasonTargetRefused, fmt.Sprintf("target Secret %s: %s; nothing was written "+
			"to any target; name another Secret in spec.targets", w, why))
	}
	// The first write takes no key from another field manager (applyTarget, mayTake).
	adopt := b.rs.Annotations[rotationv1alpha1.AdoptAnnotation] == "true"
	claimed := func(key string) bool {
		return slices.Contains(b.rs.Status.ClaimedKeys, w.Namespace+"/"+w.Name+"/"+key)
	}
	if msg := sink.Blocking(w, owners, claimed, adopt); msg != "" {
		b.refuse(rotationv1alpha1.ReasonTargetOwnedElsewhere, msg)
	}
	return tgt, nil
}

// namespaceExists refuses a target in a namespace that does not exist, as the operator's write would
// (TargetNamespaceNotFound); a namespace the person may not read is left to the operator.
func (b *builder) namespaceExists(ctx context.Context, w sink.SecretWrite) {
	err := b.in.Client.Get(ctx, client.ObjectKey{Name: w.Namespace}, &corev1.Namespace{})
	if apierrors.IsNotFound(err) {
		b.refuse(rotationv1alpha1.ReasonTargetNamespaceNotFound,
			fmt.Sprintf("target Secret %s: namespace %q does not exist", w, w.Namespace))
	}
}

// targetKeys are the keys of w that spec.targets names (the others are previous-value keys).
func targetKeys(rs *rotationv1alpha1.RotatedSecret, w sink.SecretWrite) []string {
	var keys []string
	for _, t := range rs.Spec.Targets {
		if t.GitHubActions == nil && specs.TargetNamespace(rs, t) == w.Namespace && t.SecretName == w.Name {
			keys = append(keys, t.Key)
		}
	}
	return keys
}

// compromised reports whether rev is in status.compromised: it is never written again, not even as previous.
func compromised(rs *rotationv1alpha1.RotatedSecret, rev int64) bool {
	return slices.ContainsFunc(rs.Status.Compromised, func(c rotationv1alpha1.CompromisedRevision) bool { return c.Revision == rev })
}

// secretRead is reading a Secret of namespace (a credential, a staged value, a webhook URL).
func secretRead(namespace, name string) tenancy.Action {
	return tenancy.Action{Verb: "get", Resource: "secrets", Namespace: namespace, Name: name}
}
