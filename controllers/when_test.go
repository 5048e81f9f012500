package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/notify"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/fake"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// receiver is a webhook that records the notifications it accepted (by id) and every delivery attempt. Like any
// receiver of at-least-once deliveries it deduplicates on the id: a copy sent again is accepted and not counted.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	failNext int                 // answer 503 to this many more requests
	attempts map[string]int      // id -> requests
	accepted []map[string]any    // accepted JSON documents, in order
	events   map[string][]string // event -> accepted ids
}

func newReceiver() *receiver {
	rc := &receiver{attempts: map[string]int{}, events: map[string][]string{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("Idempotency-Key")
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.attempts[id]++
		if rc.failNext > 0 {
			rc.failNext--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var doc map[string]any
		Expect(json.Unmarshal(body, &doc)).To(Succeed())
		rc.accepted = append(rc.accepted, doc)
		ev := fmt.Sprint(doc["event"])
		if !slices.Contains(rc.events[ev], id) {
			rc.events[ev] = append(rc.events[ev], id)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	DeferCleanup(rc.Close)
	return rc
}

// got returns the ids accepted for event.
func (rc *receiver) got(event string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.events[event]...)
}

// withNotify sends every event to the receiver, whose URL is in Secret "hooks" of the namespace.
func withNotify(rc *receiver, ns string) testgen.Option {
	Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hooks", Namespace: ns},
		StringData: map[string]string{"url": rc.URL + "/hook"}})).To(Succeed())
	return func(rs *rotationv1alpha1.RotatedSecret) {
		rs.Spec.Notify = []rotationv1alpha1.NotifySpec{{Webhook: rotationv1alpha1.WebhookSpec{
			URLSecretRef: rotationv1alpha1.SecretKeyRef{Name: "hooks", Key: "url"}}}}
	}
}

// expectScheduled waits until RotationScheduled is True with reason and a message containing text.
func expectScheduled(rs *rotationv1alpha1.RotatedSecret, reason, text string) *rotationv1alpha1.RotatedSecret {
	GinkgoHelper()
	var got *rotationv1alpha1.RotatedSecret
	Eventually(func(g Gomega) {
		got = cluster.With(g).RotatedSecret(rs)
		c := fixture.Condition(got, rotationv1alpha1.ConditionRotationScheduled)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(reason))
		g.Expect(c.Message).To(ContainSubstring(text))
	}, wait).Should(Succeed())
	return got
}

var _ = Describe("When to rotate", func() {
	var ns string
	var op *operator
	start := func(opts operatorOptions) {
		opts.notifier = &notify.Sender{Client: egress.MustParse("127.0.0.1").Client(5 * time.Second)}
		op = startOperator(opts, ns)
	}
	BeforeEach(func() { ns = cluster.NewNamespace("t-") })
	AfterEach(func() { op.stop() })

	It("waits for the maintenance window, then rotates; status.nextRotationTime is the window's start", func() {
		start(operatorOptions{})
		now := clock.Now().UTC()
		open := now.Add(30 * time.Hour).Truncate(time.Minute)
		rs := testgen.RotatedSecret("jwt", ns, testgen.WithTTL("1d"))
		rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{Windows: []rotationv1alpha1.MaintenanceWindow{{
			Days:  []rotationv1alpha1.Weekday{rotationv1alpha1.Weekday(open.Weekday().String()[:3])},
			Start: open.Format("15:04"), Duration: "1h"}}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		Eventually(func() time.Time {
			if t := cluster.RotatedSecret(rs).Status.NextRotationTime; t != nil {
				return t.UTC()
			}
			return time.Time{}
		}, wait).Should(Equal(open), "the printer column shows the real start, not the TTL")

		clock.Step(25 * time.Hour) // the TTL ran out an hour ago; the window opens in five
		poke(rs)
		got := expectScheduled(rs, rotationv1alpha1.ReasonWaitingForWindow, "starts at "+open.Format(time.RFC3339))
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1))
		settle(rs)

		clock.Step(5*time.Hour + time.Minute)
		poke(rs)
		cluster.WaitForRevision(rs, 2)
		Eventually(func() metav1.ConditionStatus {
			return fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionRotationScheduled).Status
		}, wait).Should(Equal(metav1.ConditionFalse))
	})

	It("starts a manual rotation at once, or at the window with respect-window; an emergency never waits", func() {
		start(operatorOptions{})
		open := clock.Now().UTC().Add(6 * time.Hour).Truncate(time.Minute)
		rs := testgen.RotatedSecret("jwt", ns)
		rs.Spec.Schedule = &rotationv1alpha1.ScheduleSpec{Windows: []rotationv1alpha1.MaintenanceWindow{{
			Days:  []rotationv1alpha1.Weekday{rotationv1alpha1.Weekday(open.Weekday().String()[:3])},
			Start: open.Format("15:04"), Duration: "1h"}}}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "now")
		cluster.WaitForRevision(rs, 2)

		cluster.Update(rs, func(live *rotationv1alpha1.RotatedSecret) {
			live.Annotations[rotationv1alpha1.RespectWindowAnnotation] = "true"
			live.Annotations[rotationv1alpha1.RotateAnnotation] = "in-the-window"
		})
		expectScheduled(rs, rotationv1alpha1.ReasonWaitingForWindow, "starts at "+open.Format(time.RFC3339))
		settle(rs)
		clock.Step(6*time.Hour + time.Minute)
		poke(rs)
		cluster.WaitForRevision(rs, 3)

		clock.Step(2 * time.Hour) // the window has closed
		cluster.Annotate(rs, rotationv1alpha1.EmergencyAnnotation, "leak-1 key posted in a chat")
		cluster.WaitForRevision(rs, 4)
		Expect(cluster.RotatedSecret(rs).Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerEmergency))
	})

	It("gives notice before a manual rotation, notifies first, and starts when the notice has elapsed", func() {
		rc := newReceiver()
		start(operatorOptions{})
		rs := testgen.RotatedSecret("jwt", ns, withNotify(rc, ns))
		rs.Spec.Notice = "10m"
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)

		Eventually(func() []string { return rc.got("Succeeded") }, wait).Should(HaveLen(1), "the first value")

		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "now")
		expectScheduled(rs, rotationv1alpha1.ReasonRotationNotice, "Manual rotation scheduled for")
		Eventually(func() []string { return rc.got("Scheduled") }, wait).Should(HaveLen(1))
		Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(rotationv1alpha1.ReasonRotationNotice))
		settle(rs)
		Expect(rc.got("Started")).To(HaveLen(1), "only the first value's: the rotation waits for the notice")

		clock.Step(11 * time.Minute)
		poke(rs)
		cluster.WaitForRevision(rs, 2)
		Eventually(func() []string { return rc.got("Succeeded") }, wait).Should(HaveLen(2))
		Expect(rc.got("Started")).To(HaveLen(2))
	})

	It("delivers a notification once, with the same id, to a receiver that fails three times; the rotation goes on", func() {
		rc := newReceiver()
		rc.failNext = 3
		start(operatorOptions{})
		rs := testgen.RotatedSecret("jwt", ns, withNotify(rc, ns))
		rs.Spec.Notify[0].On = []rotationv1alpha1.NotifyEvent{rotationv1alpha1.NotifySucceeded}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		cluster.WaitForRevision(rs, 1)
		Eventually(func(g Gomega) {
			c := fixture.Condition(cluster.With(g).RotatedSecret(rs), rotationv1alpha1.ConditionNotificationFailing)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(ContainSubstring("503"))
			g.Expect(c.Message).NotTo(ContainSubstring(rc.URL), "a webhook URL is a credential")
		}, wait).Should(Succeed())
		total := func() int {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			n := 0
			for _, a := range rc.attempts {
				n += a
			}
			return n
		}
		for attempt := 2; attempt <= 4; attempt++ {
			clock.Step(notify.Backoff(8)) // past the next attempt's time, whatever the backoff
			poke(rs)
			Eventually(total, wait).Should(Equal(attempt))
		}
		Eventually(func() []string { return rc.got("Succeeded") }, wait).Should(HaveLen(1))
		id := rc.got("Succeeded")[0]
		rc.mu.Lock()
		Expect(rc.attempts).To(HaveLen(1), "every attempt carried the same id")
		Expect(rc.attempts[id]).To(BeNumerically(">=", 4), "three refused, then accepted (at least once)")
		rc.mu.Unlock()
		Eventually(func() metav1.ConditionStatus {
			return fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionNotificationFailing).Status
		}, wait).Should(Equal(metav1.ConditionFalse))
		Expect(cluster.RotatedSecret(rs).Status.Notifications.Outbox).To(BeEmpty())
	})

	// stagingFirst starts the operator with jwt-staging and jwt-prod (which depends on it, changed by tune) both on
	// their first revision.
	stagingFirst := func(tune func(prod *rotationv1alpha1.RotatedSecret)) (staging, prod *rotationv1alpha1.RotatedSecret) {
		GinkgoHelper()
		start(operatorOptions{})
		staging = testgen.RotatedSecret("jwt-staging", ns, testgen.WithTarget("staging-env", "JWT_SECRET"))
		prod = testgen.RotatedSecret("jwt-prod", ns, testgen.WithTarget("prod-env", "JWT_SECRET"))
		prod.Spec.DependsOn = []rotationv1alpha1.DependencyRef{{Name: "jwt-staging"}}
		tune(prod)
		Expect(k8sClient.Create(ctx, staging)).To(Succeed())
		Expect(k8sClient.Create(ctx, prod)).To(Succeed())
		cluster.WaitForRevision(staging, 1)
		cluster.WaitForRevision(prod, 1)
		return staging, prod
	}

	It("rotates staging first: production waits for it and its soak", func() {
		staging, prod := stagingFirst(func(prod *rotationv1alpha1.RotatedSecret) { prod.Spec.DependsOnSoak = "1h" })

		clock.Step(time.Minute) // the request comes after staging's first value
		cluster.Annotate(prod, rotationv1alpha1.RotateAnnotation, "release-42")
		expectScheduled(prod, rotationv1alpha1.ReasonWaitingForDependency, "dependency "+ns+"/jwt-staging has not completed a rotation")
		Eventually(func() []string { return eventReasons(prod) }, wait).Should(ContainElement(rotationv1alpha1.ReasonWaitingForDependency),
			"kubectl describe tells why it waits")
		cluster.Annotate(staging, rotationv1alpha1.RotateAnnotation, "release-42")
		cluster.WaitForRevision(staging, 2)
		expectScheduled(prod, rotationv1alpha1.ReasonWaitingForDependency, "must stay Ready for 1h0m0s")
		Expect(cluster.RotatedSecret(prod).Status.CurrentRevision).To(BeEquivalentTo(1))

		clock.Step(time.Hour + time.Minute)
		poke(prod)
		cluster.WaitForRevision(prod, 2)
	})

	It("lets an emergency pass a rotation waiting for its dependency and its notice", func() {
		staging, prod := stagingFirst(func(prod *rotationv1alpha1.RotatedSecret) { prod.Spec.Notice = "10m" })
		clock.Step(time.Minute)
		cluster.Annotate(prod, rotationv1alpha1.RotateAnnotation, "release-43")
		expectScheduled(prod, rotationv1alpha1.ReasonWaitingForDependency, "jwt-staging")

		cluster.Annotate(prod, rotationv1alpha1.EmergencyAnnotation, "e1 leaked")
		got := cluster.WaitForRevision(prod, 2)
		Expect(got.Status.History[0].Trigger).To(Equal(rotationv1alpha1.TriggerEmergency))
		Expect(cluster.RotatedSecret(staging).Status.CurrentRevision).To(BeEquivalentTo(1), "staging did not rotate first")
		Expect(got.Status.Scheduled).To(BeNil(), "the emergency also satisfied the waiting rotate request")
		Expect(got.Status.LastHandledRotateRequest).To(Equal("release-43"))
	})

	It("refuses a dependency cycle", func() {
		start(operatorOptions{})
		a := testgen.RotatedSecret("a", ns, testgen.WithTarget("env-a", "K"))
		a.Spec.DependsOn = []rotationv1alpha1.DependencyRef{{Name: "b"}}
		b := testgen.RotatedSecret("b", ns, testgen.WithTarget("env-b", "K"))
		b.Spec.DependsOn = []rotationv1alpha1.DependencyRef{{Name: "a"}}
		Expect(k8sClient.Create(ctx, a)).To(Succeed())
		Expect(k8sClient.Create(ctx, b)).To(Succeed())
		poke(a)
		expectStalled(a, rotationv1alpha1.ReasonInvalidSpec, fmt.Sprintf("a cycle: %s/a -> %s/b -> %s/a", ns, ns, ns))
	})

	It("refuses a value another RotatedSecret has had: nothing is written", func() {
		same := &fake.Provider{GenerateFunc: func(context.Context, provider.Request) (provider.Result, error) {
			return provider.Result{Values: provider.Values{"value": []byte("the-same-staged-value-everywhere")}}, nil
		}}
		start(operatorOptions{random: same})
		first := testgen.RotatedSecret("staging-key", ns, testgen.WithTarget("staging-env", "KEY"))
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		cluster.WaitForRevision(first, 1)

		second := testgen.RotatedSecret("prod-key", ns, testgen.WithTarget("prod-env", "KEY"))
		Expect(k8sClient.Create(ctx, second)).To(Succeed())
		expectStalled(second, rotationv1alpha1.ReasonValueReused, "RotatedSecret "+ns+"/staging-key has had")
		Expect(secretData(ns, "prod-env")).To(BeNil())
		Expect(same.Calls("Generate")).To(Equal(1+3), "the first value, then three draws for the second")
	})
})

var _ = Describe("Herd control (--max-concurrent-rollouts)", func() {
	It("never has more than two rotations rolling out when ten are due; the rest wait in phase Queued", func() {
		ns := cluster.NewNamespace("t-")
		op := startOperator(operatorOptions{maxConcurrentRollouts: 2}, ns)
		defer op.stop()
		var rss []*rotationv1alpha1.RotatedSecret
		for i := range 10 {
			name := fmt.Sprintf("app-%d", i)
			createDeployments(ns, name)
			rs := testgen.RotatedSecret(name, ns, testgen.WithTarget(name+"-env", "KEY"),
				testgen.WithRollout(testgen.Stage("app", "10m", name)))
			rss = append(rss, rs)
		}
		for _, rs := range rss {
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		}
		sawQueued, most := false, 0
		Eventually(func(g Gomega) {
			var list rotationv1alpha1.RotatedSecretList
			g.Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			rolling, done := 0, 0
			for _, rs := range list.Items {
				sawQueued = sawQueued || rs.Status.Phase == rotationv1alpha1.PhaseQueued
				if rs.Status.Pending != nil {
					rolling++
					if cluster.TemplateRevision(ns, rs.Name, rs.Name) == "1" {
						markRolledOut(ns, rs.Name)
					}
				}
				if rs.Status.CurrentRevision == 1 && rs.Status.Pending == nil {
					done++
				}
			}
			most = max(most, rolling)
			g.Expect(most).To(BeNumerically("<=", 2), "rotations rolling out at once")
			g.Expect(done).To(Equal(10))
		}, 2*time.Minute, 100*time.Millisecond).Should(Succeed())
		Expect(most).To(Equal(2), "the slots were used")
		Expect(sawQueued).To(BeTrue(), "the others waited in phase Queued")
	})
})
