package sink

import (
	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/specs"
)

// Writes groups the targets by Secret: each target key gets its output of cur and, when prev is not nil,
// <key><suffix> gets the same output of prev. Order follows spec.targets.
func Writes(rs *rotationv1alpha1.RotatedSecret, cur, prev provider.Values) []SecretWrite {
	var writes []SecretWrite
	index := map[string]int{}
	for _, t := range rs.Spec.Targets {
		if t.GitHubActions != nil {
			continue // a GitHub Actions secret: mirrored, not applied
		}
		ns := specs.TargetNamespace(rs, t)
		id := ns + "/" + t.SecretName
		i, ok := index[id]
		if !ok {
			i = len(writes)
			index[id] = i
			writes = append(writes, SecretWrite{Namespace: ns, Name: t.SecretName, Data: map[string][]byte{}})
		}
		writes[i].Data[t.Key] = cur[specs.TargetOutput(t)]
		if v, ok := prev[specs.TargetOutput(t)]; ok {
			writes[i].Data[t.Key+specs.PreviousSuffix(rs)] = v
		}
	}
	return writes
}
