package sink

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// managed is a managedFields entry of manager owning the data keys given.
func managed(manager string, op metav1.ManagedFieldsOperationType, keys ...string) metav1.ManagedFieldsEntry {
	fields := `{"f:data":{`
	for i, k := range keys {
		if i > 0 {
			fields += ","
		}
		fields += `"f:` + k + `":{}`
	}
	fields += `},"f:metadata":{"f:labels":{"f:rotation.tribi.io/managed":{}}}}`
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func TestOwnersReadsManagedFields(t *testing.T) {
	g := NewWithT(t)
	ours := FieldManager("backend", "jwt")
	w := SecretWrite{Namespace: "backend", Name: "env", Data: map[string][]byte{"JWT": nil, "JWT_PREVIOUS": nil}}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{
		managed(ours, metav1.ManagedFieldsOperationApply, "JWT"),
		managed("helm", metav1.ManagedFieldsOperationApply, "JWT_PREVIOUS", "OTHER"),
		managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "JWT"),
		{Manager: "status-writer", Subresource: "status", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:JWT":{}}}`)}},
		{Manager: "broken", FieldsV1: &metav1.FieldsV1{Raw: []byte(`not json`)}},
	}}}
	g.Expect(Owners(s, ours, w)).To(Equal([]Conflict{{Key: "JWT", Manager: "kubectl-edit"}, {Key: "JWT_PREVIOUS", Manager: "helm"}}))
	g.Expect(Owners(nil, ours, w)).To(BeEmpty(), "a Secret that does not exist yet has no owners")
}

func TestBlocking(t *testing.T) {
	w := SecretWrite{Namespace: "backend", Name: "env", Data: map[string][]byte{"JWT": nil}}
	helm := []Conflict{{Key: "JWT", Manager: "helm"}}
	other := []Conflict{{Key: "JWT", Manager: FieldManager("backend", "other")}}
	none := func(string) bool { return false }
	cases := []struct {
		name      string
		conflicts []Conflict
		claimed   func(string) bool
		adopt     bool
		want      string
	}{
		{name: "nobody else", claimed: none},
		{name: "the label is no key", conflicts: []Conflict{{Manager: "helm"}}, claimed: none},
		{name: "Helm's key", conflicts: helm, claimed: none,
			want: `target Secret backend/env: key JWT is owned by field manager "helm"; nothing was written; to take it over, set the annotation rotation.tribi.io/adopt: "true" on this RotatedSecret`},
		{name: "Helm's key, adopted", conflicts: helm, claimed: none, adopt: true},
		{name: "a key written before", conflicts: helm, claimed: func(k string) bool { return k == "JWT" }},
		{name: "another RotatedSecret's key, even adopted", conflicts: other, claimed: none, adopt: true,
			want: "another RotatedSecret writes it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			got := Blocking(w, c.conflicts, c.claimed, c.adopt)
			if c.want == "" {
				g.Expect(got).To(BeEmpty())
				return
			}
			g.Expect(got).To(ContainSubstring(c.want))
		})
	}
}

func TestReserved(t *testing.T) {
	g := NewWithT(t)
	exists := func(_, name string) bool { return name == "jwt" }
	g.Expect(Reserved("backend", "env", &corev1.Secret{}, exists)).To(BeEmpty())
	g.Expect(Reserved("backend", "jwt-rotation", nil, exists)).To(Equal("it is the name of the staging Secret of RotatedSecret jwt"))
	g.Expect(Reserved("backend", "gone-rotation", nil, exists)).To(BeEmpty(), "no RotatedSecret of that name")
	g.Expect(Reserved("backend", "x", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
		rotationv1alpha1.RotatedSecretLabel: "cookie"}}}, exists)).To(Equal("it is the staging Secret of RotatedSecret cookie"))
	g.Expect(Reserved("ops", "secret-rotator-fingerprint-key", nil, exists)).To(Equal("it is the name of the operator's fingerprint key"))
}

func TestWritesGroupsTargetsBySecret(t *testing.T) {
	g := NewWithT(t)
	rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "backend"}, Spec: rotationv1alpha1.RotatedSecretSpec{
		Previous: &rotationv1alpha1.PreviousSpec{Keep: true, Suffix: "_OLD"},
		Targets: []rotationv1alpha1.Target{
			{SecretName: "env", Key: "KEY"}, {SecretName: "env", Key: "ID", From: "id"},
			{SecretName: "env", Namespace: "other", Key: "KEY"}, {GitHubActions: &rotationv1alpha1.GitHubActionsTarget{Name: "K"}},
		}}}
	cur, prev := provider.Values{"value": []byte("new"), "id": []byte("n")}, provider.Values{"value": []byte("old")}
	g.Expect(Writes(rs, cur, prev)).To(Equal([]SecretWrite{
		{Namespace: "backend", Name: "env", Data: map[string][]byte{"KEY": []byte("new"), "KEY_OLD": []byte("old"), "ID": []byte("n")}},
		{Namespace: "other", Name: "env", Data: map[string][]byte{"KEY": []byte("new"), "KEY_OLD": []byte("old")}},
	}))
}
