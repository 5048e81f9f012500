package plan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/plan"
	"github.com/tribi/secret-rotator/internal/testgen"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// rotator is the ServiceAccount the RotatedSecrets of these tests act as.
const rotator = "rotator"

// prod is a RotatedSecret with everything a plan shows, in a namespace the operator does not watch (its status is
// set by hand), depending on a RotatedSecret of the staging namespace, which the operator rotates.
type prod struct {
	ns  string
	rs  *rotationv1alpha1.RotatedSecret
	dep *rotationv1alpha1.RotatedSecret
}

// newProd builds it: a TTL that ran out an hour before t0, a nightly window at 02:00 UTC, 10 minutes' notice,
// two stages (a named Deployment that is healthy, a selector matching one that is still rolling out), a
// validation Job, the previous value kept, a dependency, a webhook. Its ServiceAccount may do all of it.
func newProd(t *testing.T) prod {
	t.Helper()
	g := NewWithT(t)
	ns := mustNamespace("prod-")
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: rotator, Namespace: ns}})
	grant(t, ns, "tenant", ns, rotator,
		rule("", "secrets", "get", "create", "update", "patch"),
		rule("apps", "deployments", "get", "patch"),
		rule("batch", "jobs", "get", "create"),
		rule("", "serviceaccounts/token", "create"))
	grant(t, staging, "read-from-"+ns, ns, rotator, rule(rotationv1alpha1.GroupVersion.Group, "rotatedsecrets", "get"))

	// Each test has its own dependency (the staging namespace is shared): jwt-<the suffix of ns>.
	suffix := strings.TrimPrefix(ns, "prod-")
	dep := testgen.RotatedSecret("jwt-"+suffix, staging, testgen.WithTarget("env-"+suffix, "JWT_SECRET"))
	create(t, dep)
	g.Eventually(func(g Gomega) {
		live := &rotationv1alpha1.RotatedSecret{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), live)).To(Succeed())
		g.Expect(live.Status.CurrentRevision).To(Equal(int64(1)))
		g.Expect(fixture.Condition(live, rotationv1alpha1.ConditionReady)).NotTo(BeNil())
		g.Expect(live.Status.ObservedGeneration).To(Equal(live.Generation))
	}, wait).Should(Succeed(), "the operator gives the dependency its first value")

	worker := testgen.Deployment("worker", ns, 2)
	create(t, worker)
	worker.Status = appsv1.DeploymentStatus{ObservedGeneration: worker.Generation, Replicas: 2, UpdatedReplicas: 2,
		ReadyReplicas: 2, AvailableReplicas: 2}
	g.Expect(k8sClient.Status().Update(ctx, worker)).To(Succeed())
	api := testgen.Deployment("api", ns, 3)
	api.Labels["tier"] = "api"
	create(t, api)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "env", Namespace: ns}, Data: map[string][]byte{"OTHER": []byte("x")}})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: ns},
		Data: map[string][]byte{"url": []byte("https://hooks.example.com/services/T0/B0/secret-part")}})

	rs := testgen.RotatedSecret("jwt", ns, testgen.WithTarget("env", "JWT_SECRET"), testgen.WithPrevious("_PREVIOUS", "24h"),
		testgen.WithRollout(testgen.Stage("workers", "10m", "worker"),
			rotationv1alpha1.RolloutStage{Name: "api", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "api"}}}),
		testgen.WithValidation(rotationv1alpha1.FailureRollback, "5m", "smoke"))
	rs.Spec.ServiceAccountName = rotator
	rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{TimeZone: "UTC", Windows: []rotationv1alpha1.MaintenanceWindow{{
		Days: []rotationv1alpha1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}, Start: "02:00", Duration: "2h"}}}
	rs.Spec.Notice = "10m"
	rs.Spec.DependsOn = []rotationv1alpha1.DependencyRef{{Name: dep.Name, Namespace: staging}}
	rs.Spec.Notify = []rotationv1alpha1.NotifySpec{{Webhook: rotationv1alpha1.WebhookSpec{
		URLSecretRef: rotationv1alpha1.SecretKeyRef{Name: "hooks", Key: "url"}}, On: []rotationv1alpha1.NotifyEvent{"Scheduled", "Started"}}}
	create(t, rs)
	last := metav1.NewTime(t0.Add(-90*24*time.Hour - time.Hour))
	rs.Status = rotationv1alpha1.RotatedSecretStatus{Phase: rotationv1alpha1.PhaseReady, CurrentRevision: 1,
		ObservedGeneration: rs.Generation, LastRotationTime: &last, History: []rotationv1alpha1.RotationRecord{{Revision: 1,
			Trigger: rotationv1alpha1.TriggerCreated, StartTime: last, CompletionTime: &last, Outcome: rotationv1alpha1.OutcomeSucceeded}}}
	g.Expect(k8sClient.Status().Update(ctx, rs)).To(Succeed())
	return prod{ns: ns, rs: rs, dep: dep}
}

// settings are the operator's defaults, with the staging dependency allowed and the webhook's host listed.
func settings() plan.Settings {
	s := plan.DefaultSettings()
	s.NoCrossNamespaceRefs = false
	s.HTTPAllowedHosts = egress.MustParse("hooks.example.com")
	return s
}

func build(t *testing.T, c client.Client, config *rest.Config, rs *rotationv1alpha1.RotatedSecret, s plan.Settings, now time.Time) *plan.Report {
	t.Helper()
	r, err := plan.Build(ctx, plan.Input{Client: c, Config: config, Namespace: rs.Namespace, Name: rs.Name, Settings: s,
		Clock: clocktesting.NewFakePassiveClock(now)})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return r
}

func TestPlanShowsTargetsStagesJobsWindowDependencyAndNotifications(t *testing.T) {
	g := NewWithT(t)
	p := newProd(t)
	r := build(t, k8sClient, cfg, p.rs, settings(), t0.Add(30*time.Minute))

	g.Expect(r.ActsAs).To(Equal("ServiceAccount " + p.ns + "/" + rotator))
	g.Expect(r.CurrentRevision).To(Equal(int64(1)))
	g.Expect(r.NextRevision).To(Equal(int64(2)))
	g.Expect(r.Refusals).To(BeEmpty())
	g.Expect(r.Targets).To(Equal([]plan.Target{{Secret: p.ns + "/env", Exists: true, Keys: []plan.Key{
		{Name: "JWT_SECRET", From: "value"},
		{Name: "JWT_SECRET_PREVIOUS", From: "value", Previous: true},
	}}}))

	g.Expect(r.Stages).To(HaveLen(2))
	g.Expect(r.Stages[0].Workloads).To(ConsistOf(And(
		HaveField("Name", "worker"), HaveField("Health", plan.Healthy), HaveField("Ready", int32(2)), HaveField("Desired", int32(2)))))
	g.Expect(r.Stages[1].Selector).To(Equal("tier=api"))
	g.Expect(r.Stages[1].Workloads).To(ConsistOf(And(
		HaveField("Name", "api"), HaveField("Health", plan.Progressing), HaveField("Ready", int32(0)), HaveField("Desired", int32(3)))))

	g.Expect(r.Jobs).To(Equal([]plan.Job{{Kind: "validation", Name: "smoke", JobName: "jwt-smoke-r2", ServiceAccount: "default",
		CreatedAs: "ServiceAccount " + p.ns + "/" + rotator,
		When:      "after the last stage, before the commit; a failure rolls back or halts (onFailure: Rollback)"}}))

	// Due an hour before t0; the next window opens Monday 02:00 UTC; notice 10 minutes before.
	s := r.Schedule
	g.Expect(s.Trigger).To(Equal("TTLExpired"))
	g.Expect(*s.Due).To(Equal(t0.Add(-time.Hour)))
	g.Expect(*s.Planned).To(Equal(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)))
	g.Expect(*s.NoticeAt).To(Equal(time.Date(2026, 3, 2, 1, 50, 0, 0, time.UTC)))
	g.Expect(*s.Start).To(Equal(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)))
	g.Expect(s.NoticeGiven).To(BeFalse())

	// The operator rotated the dependency at t0: it has not stayed Ready for the soak (1h) yet.
	g.Expect(r.Dependencies).To(HaveLen(1))
	d := r.Dependencies[0]
	g.Expect(d.RotatedSecret).To(Equal(staging + "/" + p.dep.Name))
	g.Expect(d.Exists && d.Ready).To(BeTrue())
	g.Expect(d.CurrentRevision).To(Equal(int64(1)))
	g.Expect(d.Satisfied).To(BeFalse())
	g.Expect(*d.Until).To(Equal(t0.Add(time.Hour)))
	g.Expect(d.Message).To(ContainSubstring("must stay Ready for 1h0m0s"))

	g.Expect(r.Notifications).To(Equal([]plan.Notification{{Sink: 0, Format: "json", Events: []string{"Scheduled", "Started"},
		URLSecret: "hooks/url", URLCheck: "ok"}}))

	g.Expect(r.Access.Method).To(Equal(plan.MethodImpersonation))
	g.Expect(r.Access.Checks).NotTo(BeEmpty())
	for _, c := range r.Access.Checks {
		g.Expect(c.Result).To(Equal(plan.Allowed), c.Action)
	}
	g.Expect(actions(r)).To(ContainElements(
		"create secrets in namespace "+p.ns,
		`patch secrets "jwt-rotation" in namespace `+p.ns,
		`patch secrets "env" in namespace `+p.ns,
		`patch deployments.apps "worker" in namespace `+p.ns,
		`patch deployments.apps "api" in namespace `+p.ns,
		"create jobs.batch in namespace "+p.ns,
		`create serviceaccounts/token "default" in namespace `+p.ns,
		`get rotatedsecrets.rotation.tribi.io "`+p.dep.Name+`" in namespace `+staging,
		`get secrets "hooks" in namespace `+p.ns,
	))

	// Two hours after t0 the soak is over: the dependency holds nothing.
	later := build(t, k8sClient, cfg, p.rs, settings(), t0.Add(2*time.Hour))
	g.Expect(later.Dependencies[0].Satisfied).To(BeTrue())
	g.Expect(later.Dependencies[0].Message).To(BeEmpty())

	// The text of the same report, its random names replaced (through its JSON, so the columns line up).
	doc, err := json.Marshal(r)
	g.Expect(err).NotTo(HaveOccurred())
	doc = []byte(strings.NewReplacer(p.dep.Name, "jwt-dependency", p.ns, "prod", staging, "staging").Replace(string(doc)))
	var named plan.Report
	g.Expect(json.Unmarshal(doc, &named)).To(Succeed())
	var text bytes.Buffer
	g.Expect(named.WriteText(&text)).To(Succeed())
	golden(t, "plan.golden", text.String())
}

func TestPlanShowsWhatTheServiceAccountMayNotDo(t *testing.T) {
	g := NewWithT(t)
	a, b := mustNamespace("team-a-"), mustNamespace("team-b-")
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: rotator, Namespace: a}})
	grant(t, a, "tenant", a, rotator, rule("", "secrets", "get", "create", "update", "patch"))
	rs := testgen.RotatedSecret("jwt", a, testgen.WithTarget("env", "JWT_SECRET"), testgen.WithTargetIn(b, "env", "JWT_SECRET"))
	rs.Spec.ServiceAccountName = rotator
	create(t, rs)

	r := build(t, k8sClient, cfg, rs, settings(), t0)
	r0 := r
	g.Expect(r.Refusals).To(ConsistOf(plan.Refusal{Reason: rotationv1alpha1.ReasonForbidden, Message: "ServiceAccount " + a +
		"/rotator may not patch secrets \"env\" in namespace " + b + " (Kubernetes RBAC); nothing was written; an admin can " +
		"allow it with a Role and RoleBinding"}))
	g.Expect(r.Access.Checks).To(ContainElements(
		plan.Check{Action: `patch secrets "env" in namespace ` + a, For: "target", Preflight: true, Result: plan.Allowed},
		HaveField("Result", plan.Refused)))

	// With the operator's default --no-cross-namespace-refs the guard rail refuses it first.
	r = build(t, k8sClient, cfg, rs, plan.DefaultSettings(), t0)
	g.Expect(r.Refusals).To(ContainElement(HaveField("Reason", rotationv1alpha1.ReasonCrossNamespaceRef)))

	// A person who may not impersonate the ServiceAccount but may create SubjectAccessReviews gets the same answers.
	grantUser(t, a, "viewer", "alice", rule(rotationv1alpha1.GroupVersion.Group, "rotatedsecrets", "get", "list"),
		rule("", "secrets", "get"), rule("apps", "deployments", "get", "list"))
	grantUser(t, b, "viewer", "alice", rule("", "secrets", "get"))
	create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reviewer-" + a},
		Rules: []rbacv1.PolicyRule{rule("authorization.k8s.io", "subjectaccessreviews", "create")}})
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reviewer-" + a},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "reviewer-" + a},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "bob"}}})
	grantUser(t, a, "viewer-bob", "bob", rule(rotationv1alpha1.GroupVersion.Group, "rotatedsecrets", "get", "list"),
		rule("", "secrets", "get"))
	bob, bobCfg := as(t, "bob")
	viaReview := build(t, bob, bobCfg, rs, settings(), t0)
	g.Expect(viaReview.Access.Method).To(Equal(plan.MethodSubjectReview))
	g.Expect(viaReview.Refusals).To(Equal(r0.Refusals))
	g.Expect(viaReview.Access.Checks).To(Equal(r0.Access.Checks))

	// One who may create LocalSubjectAccessReviews in the RotatedSecret's namespace only: the other is unknown.
	grantUser(t, a, "local-reviews", "carol", rule(rotationv1alpha1.GroupVersion.Group, "rotatedsecrets", "get", "list"),
		rule("", "secrets", "get"), rule("authorization.k8s.io", "localsubjectaccessreviews", "create"))
	carol, carolCfg := as(t, "carol")
	local := build(t, carol, carolCfg, rs, settings(), t0)
	g.Expect(local.Access.Method).To(Equal(plan.MethodLocalReview))
	g.Expect(local.Refusals).NotTo(ContainElement(HaveField("Reason", rotationv1alpha1.ReasonForbidden)))
	g.Expect(local.Access.Checks).To(ContainElements(
		HaveField("Result", plan.Allowed),
		And(HaveField("Action", `patch secrets "env" in namespace `+b), HaveField("Result", plan.Unknown),
			HaveField("Message", "you may not create LocalSubjectAccessReviews in namespace "+b))))

	// A person who may neither impersonate nor create access reviews gets the plan, without RBAC checks.
	ac, alice := as(t, "alice")
	r = build(t, ac, alice, rs, settings(), t0)
	g.Expect(r.Access.Checked).To(BeFalse())
	g.Expect(r.Access.Method).To(Equal(plan.MethodNone))
	g.Expect(r.Access.Message).To(ContainSubstring("RBAC was not checked"))
	g.Expect(r.Refusals).NotTo(ContainElement(HaveField("Reason", rotationv1alpha1.ReasonForbidden)))
	for _, c := range r.Access.Checks {
		g.Expect(c.Result).To(Equal(plan.Unknown))
	}
}

func TestPlanShowsAKeyAnotherFieldManagerOwnsAsTheOperatorRefusesIt(t *testing.T) {
	g := NewWithT(t)
	// Helm owns TOKEN of Secret env (a server-side apply with its own field manager).
	g.Expect(k8sClient.Apply(ctx, corev1ac.Secret("env", owned).WithData(map[string][]byte{"TOKEN": []byte("helm's")}),
		client.FieldOwner("helm"))).To(Succeed())
	rs := testgen.RotatedSecret("tok", owned, testgen.WithTarget("env", "TOKEN"), testgen.Suspended)
	create(t, rs)

	r := build(t, k8sClient, cfg, rs, plan.DefaultSettings(), t0)
	g.Expect(r.Targets[0].Keys).To(Equal([]plan.Key{{Name: "TOKEN", From: "value", Exists: true, OwnedBy: []string{"helm"}}}))
	g.Expect(r.Refusals).To(HaveLen(1))
	refusal := r.Refusals[0]
	g.Expect(refusal.Reason).To(Equal(rotationv1alpha1.ReasonTargetOwnedElsewhere))
	g.Expect(refusal.Message).To(ContainSubstring(`key TOKEN is owned by field manager "helm"`))

	// The operator, let go, stalls on the same words.
	live := &rotationv1alpha1.RotatedSecret{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), live)).To(Succeed())
	base := live.DeepCopy()
	live.Spec.Suspend = false
	g.Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rs), live)).To(Succeed())
		c := fixture.Condition(live, rotationv1alpha1.ConditionStalled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(refusal.Reason))
		g.Expect(c.Message).To(Equal(refusal.Message))
	}, wait).Should(Succeed())

	// With rotation.tribi.io/adopt the key would be taken over: nothing is refused.
	base = live.DeepCopy()
	live.Annotations = map[string]string{rotationv1alpha1.AdoptAnnotation: "true"}
	g.Expect(k8sClient.Patch(ctx, live, client.MergeFrom(base))).To(Succeed())
	r = build(t, k8sClient, cfg, live, plan.DefaultSettings(), t0)
	g.Expect(r.Refusals).To(BeEmpty())
}

func actions(r *plan.Report) []string {
	var out []string
	for _, c := range r.Access.Checks {
		out = append(out, c.Action)
	}
	return out
}

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	NewWithT(t).Expect(got).To(Equal(string(want)))
}

// as returns a client and config of the cluster's admin impersonating user: a person with only that user's rights.
func as(t *testing.T, user string) (client.Client, *rest.Config) {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	cl, err := client.New(c, client.Options{Scheme: k8sClient.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return cl, c
}
