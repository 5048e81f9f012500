package tenancy

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// reviewer answers SelfSubjectAccessReviews from allow (by verb, resource and name) and records what it was asked.
type reviewer struct {
	allow map[Action]bool
	asked []Action
}

func (r *reviewer) actor(d *decisions) Actor {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			review := obj.(*authorizationv1.SelfSubjectAccessReview)
			ra := review.Spec.ResourceAttributes
			a := Action{Verb: ra.Verb, Group: ra.Group, Resource: ra.Resource, Subresource: ra.Subresource, Namespace: ra.Namespace, Name: ra.Name}
			r.asked = append(r.asked, a)
			review.Status.Allowed = r.allow[a]
			return nil
		},
	}).Build()
	return Actor{Writer: c, Reader: c, Namespace: "team-a", ServiceAccount: "rotator", allowed: d}
}

var (
	patchEnv   = Action{Verb: "patch", Resource: "secrets", Namespace: "team-a", Name: "env"}
	patchAny   = Action{Verb: "patch", Resource: "secrets", Namespace: "team-a"}
	patchVault = Action{Verb: "patch", Resource: "secrets", Namespace: "team-a", Name: "vault"}
)

func TestCheckAsksForTheWholeNamespaceFirstAndRemembersWhatWasAllowed(t *testing.T) {
	g := NewWithT(t)
	r := &reviewer{allow: map[Action]bool{patchAny: true}}
	a := r.actor(&decisions{})
	g.Expect(a.Check(context.Background(), patchEnv)).To(Succeed())
	g.Expect(a.Check(context.Background(), patchVault)).To(Succeed())
	g.Expect(r.asked).To(Equal([]Action{patchAny}), "a Role without resourceNames answers for every Secret at once")
}

func TestCheckFallsBackToTheNameAndNeverRemembersARefusal(t *testing.T) {
	g := NewWithT(t)
	r := &reviewer{allow: map[Action]bool{patchEnv: true}}
	a := r.actor(&decisions{})
	g.Expect(a.Check(context.Background(), patchEnv)).To(Succeed())
	err := a.Check(context.Background(), patchVault)
	var f *ForbiddenError
	g.Expect(errors.As(err, &f)).To(BeTrue())
	g.Expect(err).To(MatchError(`ServiceAccount team-a/rotator may not patch secrets "vault" in namespace team-a (Kubernetes RBAC); ` +
		"nothing was written; an admin can allow it with a Role and RoleBinding"))
	g.Expect(r.asked).To(Equal([]Action{patchAny, patchEnv, patchAny, patchVault}))

	r.allow[patchVault] = true // an admin grants it
	g.Expect(a.Check(context.Background(), patchVault)).To(Succeed())
	g.Expect(a.Check(context.Background(), patchEnv)).To(Succeed())
	g.Expect(r.asked).To(Equal([]Action{patchAny, patchEnv, patchAny, patchVault, patchAny, patchVault, patchAny}),
		"allowed names are remembered; the refused namespace-wide question is asked again")
}

func TestAllowedIsRememberedForAWhileOnly(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	d := &decisions{now: func() time.Time { return now }}
	r := &reviewer{allow: map[Action]bool{patchAny: true}}
	a := r.actor(d)
	g.Expect(a.Check(context.Background(), patchAny)).To(Succeed())
	now = now.Add(allowedFor - time.Second)
	g.Expect(a.Check(context.Background(), patchAny)).To(Succeed())
	g.Expect(r.asked).To(HaveLen(1))
	now = now.Add(2 * time.Second)
	r.allow[patchAny] = false // the right was taken away
	g.Expect(a.Check(context.Background(), patchAny)).NotTo(Succeed())
}

func TestTheOperatorsOwnIdentityIsNotChecked(t *testing.T) {
	g := NewWithT(t)
	r := &reviewer{}
	a := r.actor(nil)
	a.ServiceAccount, a.Namespace = "", ""
	g.Expect(a.Check(context.Background(), patchEnv)).To(Succeed())
	g.Expect(r.asked).To(BeEmpty())
	g.Expect(a.String()).To(Equal("the operator"))
}

func TestRefusedTurnsA403IntoForbidden(t *testing.T) {
	g := NewWithT(t)
	a := (&reviewer{}).actor(nil)
	err := a.Refused(patchEnv, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "env", errors.New("no")))
	g.Expect(IsForbidden(err)).To(BeTrue())
	g.Expect(err.Error()).To(HavePrefix(`ServiceAccount team-a/rotator may not patch secrets "env" in namespace team-a`))
	other := errors.New("connection refused")
	g.Expect(a.Refused(patchEnv, other)).To(BeIdenticalTo(other))
	g.Expect(Action{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Name: "default"}.String()).
		To(Equal(`create serviceaccounts/token "default"`))
	g.Expect(Action{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: "b", Name: "api"}.String()).
		To(Equal(`patch deployments.apps "api" in namespace b`))
}

func TestRules(t *testing.T) {
	strict := Rules{NoCrossNamespaceRefs: true, Protected: []string{"kube-system", "ops"}}
	loose := Rules{Protected: []string{"kube-system"}}
	cases := []struct {
		name                 string
		rules                Rules
		home, ref            string
		wantErr, wantCrossNS bool
	}{
		{"own namespace", strict, "team-a", "team-a", false, false},
		{"empty ref means home", strict, "team-a", "", false, false},
		{"another namespace, strict", strict, "team-a", "team-b", true, true},
		{"another namespace, loose", loose, "team-a", "team-b", false, false},
		{"a protected namespace, loose", loose, "team-a", "kube-system", true, false},
		{"zero value allows everything", Rules{}, "team-a", "kube-system", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			err := c.rules.CheckRef(c.home, "spec.targets[0]", c.ref)
			if !c.wantErr {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			var re *RuleError
			g.Expect(errors.As(err, &re)).To(BeTrue())
			g.Expect(re.CrossNamespace).To(Equal(c.wantCrossNS))
			g.Expect(re.Message).To(ContainSubstring("spec.targets[0] names namespace " + c.ref))
		})
	}
	g := NewWithT(t)
	g.Expect(strict.CheckHome("ops")).To(MatchError(ContainSubstring("namespace ops is protected (--protected-namespaces)")))
	g.Expect(strict.CheckHome("team-a")).To(Succeed())
}
