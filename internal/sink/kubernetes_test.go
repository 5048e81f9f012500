package sink

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestFieldManager(t *testing.T) {
	g := NewWithT(t)
	g.Expect(FieldManager("backend", "jwt-secret")).To(Equal("secret-rotator/backend.jwt-secret"))

	long := FieldManager(strings.Repeat("n", 63), strings.Repeat("a", 200))
	g.Expect(len(long)).To(BeNumerically("<=", 128), "the API server refuses longer field managers")
	g.Expect(long).To(HavePrefix(FieldManagerPrefix))
	g.Expect(FieldManager(strings.Repeat("n", 63), strings.Repeat("a", 199)+"b")).NotTo(Equal(long), "shortened names stay unique")
}

func TestDiff(t *testing.T) {
	g := NewWithT(t)
	w := SecretWrite{Namespace: "backend", Name: "backend-env", Data: map[string][]byte{"A": []byte("1"), "B": []byte("2"), "C": []byte("3")}}

	missing, changed := Diff(nil, w)
	g.Expect(missing).To(Equal([]string{"A", "B", "C"}))
	g.Expect(changed).To(BeEmpty())

	s := &corev1.Secret{Data: map[string][]byte{"A": []byte("1"), "B": []byte("x"), "HUMAN": []byte("h")}}
	missing, changed = Diff(s, w)
	g.Expect(missing).To(Equal([]string{"C"}))
	g.Expect(changed).To(Equal([]string{"B"}), "keys outside the write are none of its business")

	s.Data["B"], s.Data["C"] = []byte("2"), []byte("3")
	missing, changed = Diff(s, w)
	g.Expect(missing).To(BeEmpty())
	g.Expect(changed).To(BeEmpty())
	g.Expect(w.String()).To(Equal("backend/backend-env"))
}

func TestIsNamespaceNotFound(t *testing.T) {
	g := NewWithT(t)
	g.Expect(IsNamespaceNotFound(apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "gone"))).To(BeTrue())
	g.Expect(IsNamespaceNotFound(apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "s"))).To(BeFalse())
	g.Expect(IsNamespaceNotFound(apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "s", nil))).To(BeFalse())
	g.Expect(IsNamespaceNotFound(nil)).To(BeFalse())
}

func TestLabelled(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Labelled(nil)).To(BeFalse())
	g.Expect(Labelled(&corev1.Secret{})).To(BeFalse())
}

func TestRefused(t *testing.T) {
	g := NewWithT(t)
	immutable := true
	g.Expect(Refused(nil)).To(BeEmpty(), "a Secret that does not exist yet is created")
	g.Expect(Refused(&corev1.Secret{Type: corev1.SecretTypeOpaque})).To(BeEmpty())
	g.Expect(Refused(&corev1.Secret{Type: "example.com/custom"})).To(BeEmpty())
	g.Expect(Refused(&corev1.Secret{Immutable: &immutable})).To(ContainSubstring("immutable"))
	for _, typ := range []corev1.SecretType{corev1.SecretTypeServiceAccountToken, corev1.SecretTypeTLS,
		corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg, corev1.SecretTypeBootstrapToken} {
		g.Expect(Refused(&corev1.Secret{Type: typ})).To(ContainSubstring(string(typ)))
	}
}
