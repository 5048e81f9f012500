package specs

import (
	"crypto/rand"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/random"
)

func valid() *rotationv1alpha1.RotatedSecret {
	return &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Name: "jwt", Namespace: "backend"}, Spec: rotationv1alpha1.RotatedSecretSpec{
		TTL: "90d", Provider: rotationv1alpha1.ProviderSpec{Random: &rotationv1alpha1.RandomProvider{Length: 32}},
		Targets: []rotationv1alpha1.Target{{SecretName: "env", Key: "JWT"}},
	}}
}

// TestCheck covers the InvalidSpec messages the operator and the plan share; each names the field.
func TestCheck(t *testing.T) {
	providers := provider.Registry{provider.KindRandom: random.New(rand.Reader)}
	cases := []struct {
		name   string
		change func(*rotationv1alpha1.RotatedSecret)
		want   string
	}{
		{name: "valid", change: func(*rotationv1alpha1.RotatedSecret) {}},
		{name: "ttl", change: func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.TTL = "90s" }, want: "spec.ttl:"},
		{name: "notice", change: func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.Notice = "soon" }, want: "spec.notice:"},
		{name: "time zone", change: func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{TimeZone: "Mars/Olympus"}
		}, want: "timeZone"},
		{name: "provider not enabled", change: func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Provider = rotationv1alpha1.ProviderSpec{HTTP: &rotationv1alpha1.HTTPProvider{}}
		}, want: `spec.provider: provider "http" is not enabled in this operator`},
		{name: "output", change: func(rs *rotationv1alpha1.RotatedSecret) { rs.Spec.Targets[0].From = "id" },
			want: `spec.targets[0].from: the provider has no output "id" (it has: value)`},
		{name: "same key twice", change: func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Targets = append(rs.Spec.Targets, rotationv1alpha1.Target{SecretName: "env", Namespace: "backend", Key: "JWT"})
		}, want: "spec.targets[1]: key JWT of Secret backend/env is already a target"},
		{name: "stage timeout", change: func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Rollout = &rotationv1alpha1.RolloutSpec{Stages: []rotationv1alpha1.RolloutStage{{Name: "s", Timeout: "0m"}}}
		}, want: "spec.rollout.stages[0].timeout"},
		{name: "validation timeout", change: func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Validation = &rotationv1alpha1.ValidationSpec{Timeout: "0m"}
		}, want: "spec.validation.timeout"},
		{name: "purge Job name too long", change: func(rs *rotationv1alpha1.RotatedSecret) {
			rs.Spec.Emergency = &rotationv1alpha1.EmergencySpec{Jobs: []rotationv1alpha1.ValidationJob{{Name: strings.Repeat("p", 45)}}}
		}, want: "spec.emergency.jobs[0]: Job names like jwt-purge-"},
		{name: "Job template names itself", change: func(rs *rotationv1alpha1.RotatedSecret) {
			j := rotationv1alpha1.ValidationJob{Name: "smoke"}
			j.Template.Name = "mine"
			rs.Spec.PostRotation = &rotationv1alpha1.PostRotationSpec{Jobs: []rotationv1alpha1.ValidationJob{j}}
		}, want: "spec.postRotation.jobs[0].template.metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			rs := valid()
			c.change(rs)
			parsed, err := Check(rs, providers)
			if c.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(parsed.TTL.Hours()).To(Equal(float64(90 * 24)))
				g.Expect(parsed.Soak.Hours()).To(Equal(float64(1)), "dependsOnSoak defaults to 1h")
				return
			}
			g.Expect(err).To(MatchError(ContainSubstring(c.want)))
		})
	}
}

func TestDependencyCycle(t *testing.T) {
	g := NewWithT(t)
	objs := map[string]*rotationv1alpha1.RotatedSecret{}
	add := func(ns, name string, deps ...rotationv1alpha1.DependencyRef) *rotationv1alpha1.RotatedSecret {
		rs := &rotationv1alpha1.RotatedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: rotationv1alpha1.RotatedSecretSpec{DependsOn: deps}}
		objs[ns+"/"+name] = rs
		return rs
	}
	get := func(ns, name string) *rotationv1alpha1.RotatedSecret { return objs[ns+"/"+name] }
	prod := add("prod", "jwt", rotationv1alpha1.DependencyRef{Name: "jwt", Namespace: "staging"}, rotationv1alpha1.DependencyRef{Name: "missing"})
	add("staging", "jwt", rotationv1alpha1.DependencyRef{Name: "dev", Namespace: "dev"})
	dev := add("dev", "dev")
	g.Expect(DependencyCycle(prod, get)).To(BeEmpty())
	dev.Spec.DependsOn = []rotationv1alpha1.DependencyRef{{Name: "jwt", Namespace: "prod"}}
	g.Expect(DependencyCycle(prod, get)).To(Equal("prod/jwt -> staging/jwt -> dev/dev -> prod/jwt"))
}
