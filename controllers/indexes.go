package controllers

import (
	"context"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// The cache's names for a field index and for its cluster-wide keys: what its List looks up for
// client.MatchingFields{field: value} without a namespace (controller-runtime's FieldIndexName and
// KeyToNamespacedKey). Every index's tests list through them, so a change there fails them.
const (
	fieldIndexPrefix = "field:"
	allNamespacesKey = "__all_namespaces/"
)

// addIndexes indexes the cached RotatedSecrets by the Secrets they write (targetIndex), the RotatedSecrets they
// depend on (dependsOnIndex) and the fingerprints of their values (fingerprintIndex). Each index answers only the
// lists the operator makes, across all namespaces: the cache's IndexField also keeps every value under the
// object's namespace, a second set per value that nothing reads (about 5 MB at 10,000 RotatedSecrets). A List
// with one of these fields in one namespace finds nothing.
func (r *RotatedSecretReconciler) addIndexes(ctx context.Context, c cache.Cache) error {
	informer, err := c.GetInformer(ctx, &rotationv1alpha1.RotatedSecret{}, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	indexers := toolscache.Indexers{}
	for name, f := range map[string]client.IndexerFunc{targetIndex: r.indexTargets, dependsOnIndex: indexDependsOn,
		fingerprintIndex: indexFingerprints} {
		indexers[fieldIndexPrefix+name] = clusterWide(f)
	}
	return informer.AddIndexers(indexers)
}

// clusterWide keys the values f extracts as the cache's cluster-wide lookups do.
func clusterWide(f client.IndexerFunc) toolscache.IndexFunc {
	return func(obj any) ([]string, error) {
		o, ok := obj.(client.Object)
		if !ok {
			return nil, nil
		}
		raw := f(o)
		keys := make([]string, len(raw)) // raw may be the object's own slice
		for i, v := range raw {
			keys[i] = allNamespacesKey + v
		}
		return keys, nil
	}
}

// indexTargets lists the Secrets a RotatedSecret writes (its targets) or reads a person's staged value from.
func (r *RotatedSecretReconciler) indexTargets(o client.Object) []string {
	rs := o.(*rotationv1alpha1.RotatedSecret)
	var keys []string
	for _, t := range rs.Spec.Targets {
		if t.SecretName != "" {
			keys = append(keys, targetNamespace(rs, t)+"/"+t.SecretName)
		}
	}
	// A person stages new values here (a Stripe key); labelled rotation.tribi.io/managed=true the Secret is in the
	// cache and a new value starts the waiting rotation at once.
	if p, err := r.Providers.For(rs.Spec.Provider); err == nil {
		for _, name := range p.Inputs(rs.Spec.Provider) {
			keys = append(keys, rs.Namespace+"/"+name)
		}
	}
	return keys
}
