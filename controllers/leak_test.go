package controllers_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/common/expfmt"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/httpapi"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
	"github.com/tribi/secret-rotator/internal/sink/github"
	"github.com/tribi/secret-rotator/internal/staging"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// leakWindow is the length of the substrings of a value that must appear nowhere (issue 13, item 5).
const leakWindow = 12

// publicPrefixes are the documented, public beginnings of credentials. A window made only of one of them (or of
// the beginning of one) says nothing about a value and is not looked for. Every prefix here is shorter than
// leakWindow, so today no window is skipped; the list is where a longer public prefix would go. (The test vendor's
// keys, cy_live_<n>_<unix nanoseconds>, start with windows such as "cy_live_1_17" that are predictable but
// appear in no text unless a key does, so they are looked for.)
var publicPrefixes = []string{"sk_test_", "sk_live_", "rk_test_", "rk_live_", "whsec_", "ghp_", "cy_live_"}

// leakNeedle is one form of one value: the value itself, an encoding of it, or a window of either.
type leakNeedle struct {
	text, what string
}

// leakScanner looks for every form of a set of values in texts. Needles of leakWindow characters or more are
// indexed by their first leakWindow bytes, so a text is read once however many needles there are.
type leakScanner struct {
	byPrefix map[string][]leakNeedle
	short    []leakNeedle
}

// publicWindow reports whether w is entirely a known public prefix (or the beginning of one).
func publicWindow(w string) bool {
	for _, p := range publicPrefixes {
		if strings.HasPrefix(p, w) {
			return true
		}
	}
	return false
}

// newLeakScanner builds the needles of values (value -> where it was found): the raw value; base64 (standard and
// URL alphabets, padded and not), hex (lower and upper case) and URL encoding (query and path) of it; and every
// leakWindow-character window of the raw value and of its standard base64, for values at least that long.
// Windows of the hex and URL forms are not looked for: hex of a hex or decimal value is all digits, which would
// make coincidences with numbers in metrics likely, and a URL-escaped value differs from the raw one only where it
// has a character to escape.
func newLeakScanner(values map[string]string) *leakScanner {
	s := &leakScanner{byPrefix: map[string][]leakNeedle{}}
	seen := map[string]bool{}
	add := func(text, what string) {
		if seen[text] || len(text) == 0 {
			return
		}
		seen[text] = true
		n := leakNeedle{text: text, what: what}
		if len(text) < leakWindow {
			s.short = append(s.short, n)
			return
		}
		s.byPrefix[text[:leakWindow]] = append(s.byPrefix[text[:leakWindow]], n)
	}
	windows := func(text, what string) {
		for i := 0; i+leakWindow <= len(text); i++ {
			if w := text[i : i+leakWindow]; !publicWindow(w) {
				add(w, fmt.Sprintf("%s[%d:%d]", what, i, i+leakWindow))
			}
		}
	}
	for v, where := range values {
		b := []byte(v)
		std := base64.StdEncoding.EncodeToString(b)
		add(v, "raw "+where)
		add(std, "base64 of "+where)
		add(base64.RawStdEncoding.EncodeToString(b), "unpadded base64 of "+where)
		add(base64.URLEncoding.EncodeToString(b), "base64url of "+where)
		add(base64.RawURLEncoding.EncodeToString(b), "unpadded base64url of "+where)
		add(hex.EncodeToString(b), "hex of "+where)
		add(strings.ToUpper(hex.EncodeToString(b)), "upper-case hex of "+where)
		add(url.QueryEscape(v), "query-escaped "+where)
		add(url.PathEscape(v), "path-escaped "+where)
		if len(v) >= leakWindow {
			windows(v, where)
			windows(std, "base64 of "+where)
		}
	}
	return s
}

// size is the number of needles.
func (s *leakScanner) size() int {
	n := len(s.short)
	for _, l := range s.byPrefix {
		n += len(l)
	}
	return n
}

// find returns what of the values text holds, as "surface: form".
func (s *leakScanner) find(surface, text string) []string {
	var out []string
	hit := map[string]bool{}
	report := func(n leakNeedle) {
		if !hit[n.what] {
			hit[n.what] = true
			out = append(out, fmt.Sprintf("%s: %s", surface, n.what))
		}
	}
	for i := 0; i+leakWindow <= len(text); i++ {
		for _, n := range s.byPrefix[text[i:i+leakWindow]] {
			if strings.HasPrefix(text[i:], n.text) {
				report(n)
			}
		}
	}
	for _, n := range s.short {
		if strings.Contains(text, n.text) {
			report(n)
		}
	}
	return out
}

// leakToken returns 26 random characters (base32: upper-case letters and digits).
func leakToken() string { return rand.Text() }

// stagingValueKey matches the value keys of a staging Secret, "r<revision>.<output>" (not "r<revision>-state").
var stagingValueKey = regexp.MustCompile(`^r\d+\.(.+)$`)

// versionRecorder keeps every version of the RotatedSecrets, Secrets, Jobs and Deployments of a namespace that a
// watch delivers, so a value that was in a staging Secret for a moment, or a condition message that was replaced a
// second later, is looked at too.
type versionRecorder struct {
	mu      sync.Mutex
	objects []client.Object
	stop    []func()
	done    sync.WaitGroup
}

// recordVersions starts one watch per kind in ns; stopping it is deferred to the end of the spec.
func recordVersions(ns string) *versionRecorder {
	GinkgoHelper()
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: k8sClient.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	r := &versionRecorder{}
	lists := []client.ObjectList{&rotationv1alpha1.RotatedSecretList{}, &corev1.SecretList{}, &batchv1.JobList{},
		&appsv1.DeploymentList{}}
	for _, list := range lists {
		w, err := c.Watch(ctx, list, client.InNamespace(ns))
		Expect(err).NotTo(HaveOccurred())
		r.stop = append(r.stop, w.Stop)
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			for e := range w.ResultChan() {
				if obj, ok := e.Object.(client.Object); ok && e.Type != watch.Error && e.Type != watch.Bookmark {
					r.mu.Lock()
					r.objects = append(r.objects, obj.DeepCopyObject().(client.Object))
					r.mu.Unlock()
				}
			}
		}()
	}
	DeferCleanup(func() { r.finish() })
	return r
}

// finish stops the watches and waits until every version delivered is recorded; it returns them. Calling it again
// returns the same.
func (r *versionRecorder) finish() []client.Object {
	for _, stop := range r.stop {
		stop()
	}
	r.stop = nil
	r.done.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.objects
}

var _ = Describe("Secret values in what the operator writes (leak check)", func() {
	// Issue 13, item 5. One namespace and one operator take a random hex secret (two rollout stages, a GitHub
	// Actions mirror, the previous value kept), a random base64 secret (a smoke test that fails once: a rollback),
	// a Stripe webhook signing secret, a Stripe secret key staged by a person (one refused key of the wrong mode
	// first), and a vendor HTTP API key with two outputs, through their first value and at least one more
	// rotation each, one of them an emergency rotation with a reason; old credentials are revoked or, for the
	// Stripe key, tracked until a person revoked it.
	//
	// Then no value that ever existed (every version of every Secret in the namespace: targets, staging Secrets,
	// credentials, the staged key; what GitHub, Stripe and the vendor received or issued; the fingerprint key)
	// may appear raw, encoded (base64 std/URL, padded or not; hex; URL query/path escaped) or as any
	// 12-character window of the value or of its base64 in: the operator's log (zap at debug level, the most the
	// operator writes: it logs nothing above V(1); it also holds every Event note, delivered or not), Events
	// (note, reason, the whole object), every version of each RotatedSecret (status with its condition messages,
	// labels, annotations other than the rotate and emergency tokens a person wrote), of the staging and target
	// Secrets' metadata, of the validation Jobs and of the restarted Deployments, and the metrics registry (label
	// values and the text exposition).
	//
	// Not covered: notifications (Slack, e-mail) do not exist yet; when they do, their payloads belong in this
	// list. The provider state a staging Secret keeps (vendor ids) and the webhook's endpoint_id output are public
	// identifiers, not values. klog output of client-go is not captured.
	It("finds no value, raw, encoded or in part, after a rotation through every provider and mirror", func() {
		ns := cluster.NewNamespace("t-")
		versions := recordVersions(ns)

		By("vendors with random credentials: the HTTP vendor, Stripe, GitHub Actions")
		v := newVendor()
		adminToken := "cyadm_" + leakToken()
		v.set(func(v *vendor) { v.admin = adminToken })
		fake := stripetest.NewServer()
		DeferCleanup(fake.Close)
		stripeOperatorKey := "sk_test_" + leakToken()
		originalWhsec := "whsec_" + leakToken()
		fake.AddKey(stripeOperatorKey, false)
		fake.AddEndpoint(stripetest.Endpoint{ID: "we_orig", URL: webhookURL, APIVersion: webhookAPIVersion,
			Description: "backend webhooks", Secret: originalWhsec, Events: webhookEvents})
		keyA, keyWrongMode, keyB := "sk_test_"+leakToken(), "sk_live_"+leakToken(), "sk_test_"+leakToken()
		fake.AddKey(keyA, false)
		fake.AddKey(keyB, false)
		gh := newActions()
		gh.mu.Lock()
		gh.token = "ghp_" + leakToken()
		githubToken := gh.token
		gh.mu.Unlock()

		for name, data := range map[string]map[string]string{
			"connectedyou-admin": {"token": adminToken},
			"stripe-admin":       {"api-key": stripeOperatorKey},
			"github-token":       {"token": githubToken},
		} {
			Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data})).To(Succeed())
		}
		staged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stripe-staged",
			Labels: map[string]string{rotationv1alpha1.ManagedLabel: "true"}}, StringData: map[string]string{"STRIPE_SECRET_KEY": keyA}}
		Expect(k8sClient.Create(ctx, staged)).To(Succeed())
		stage := func(key string) {
			GinkgoHelper()
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(staged), staged)).To(Succeed())
			staged.Data = map[string][]byte{"STRIPE_SECRET_KEY": []byte(key)}
			Expect(k8sClient.Update(ctx, staged)).To(Succeed())
		}

		hooks, err := stripe.NewWebhook(stripe.Options{BaseURL: fake.URL})
		Expect(err).NotTo(HaveOccurred())
		keys, err := stripe.NewSecretKey(stripe.Options{BaseURL: fake.URL})
		Expect(err).NotTo(HaveOccurred())
		op := startOperator(operatorOptions{github: github.New(github.Options{BaseURL: gh.URL}), providers: provider.Registry{
			provider.KindHTTP: httpapi.New(httpapi.Options{Egress: egress.MustParse("127.0.0.1")}), provider.KindStripeWebhook: hooks, provider.KindStripeSecretKey: keys}}, ns)
		DeferCleanup(op.stop)

		By("one RotatedSecret per provider")
		createDeployments(ns, "esim-worker", "backend-api")
		jwt := jwtWithRollout(ns, testgen.WithPrevious("", "1h"))
		jwt.Spec.Targets = append(jwt.Spec.Targets, rotationv1alpha1.Target{GitHubActions: &rotationv1alpha1.GitHubActionsTarget{
			Repository: "tribi/backend", Name: "BACKEND_JWT_SECRET", Environment: "production",
			TokenSecretRef: rotationv1alpha1.SecretKeyRef{Name: "github-token", Key: "token"}}})
		cookie := testgen.RotatedSecret("cookie", ns, testgen.WithTarget("backend-env", "COOKIE_SECRET"),
			testgen.WithValidation("", "15m", "smoke"))
		cookie.Spec.Provider.Random = &rotationv1alpha1.RandomProvider{Length: 48, Encoding: rotationv1alpha1.EncodingBase64}
		hook := stripeWebhookSecret(ns)
		stripeKey := testgen.RotatedSecret("stripe-secret-key", ns, testgen.WithTTL("60d"), testgen.WithTarget("backend-env", "STRIPE_SECRET_KEY"))
		stripeKey.Spec.Provider = rotationv1alpha1.ProviderSpec{StripeSecretKey: &rotationv1alpha1.StripeSecretKeyProvider{
			StagedSecretRef: rotationv1alpha1.SecretKeyRef{Name: "stripe-staged", Key: "STRIPE_SECRET_KEY"}, Mode: rotationv1alpha1.StripeModeTest}}
		cy := connectedYou(ns, v)
		all := []*rotationv1alpha1.RotatedSecret{jwt, cookie, hook, stripeKey, cy}
		for _, rs := range all {
			Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		}

		// values maps every value that existed to where it was first seen; sources counts the distinct values
		// seen in each kind of place.
		values := map[string]string{}
		sources := map[string]map[string]bool{}
		note := func(source, v, where string) {
			if v == "" {
				return
			}
			if _, ok := values[v]; !ok {
				values[v] = where
			}
			if sources[source] == nil {
				sources[source] = map[string]bool{}
			}
			sources[source][v] = true
		}
		for what, v := range map[string]string{"vendor admin token": adminToken, "Stripe API key of the operator": stripeOperatorKey,
			"GitHub token": githubToken, "original webhook secret": originalWhsec, "staged Stripe key A": keyA,
			"staged Stripe key in the wrong mode": keyWrongMode, "staged Stripe key B": keyB} {
			note("credentials", v, what)
		}
		var fpKey corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: fixture.OperatorNamespace, Name: fingerprint.KeySecretName}, &fpKey)).To(Succeed())
		for k, v := range fpKey.Data {
			note("credentials", string(v), "fingerprint key "+k)
		}
		// collect reads every value the fakes hold now: GitHub keeps only the last value of a secret and Stripe
		// forgets a deleted endpoint, so it runs after every step. Values in the cluster come from every recorded
		// version of its Secrets at the end.
		collect := func(step string) {
			GinkgoHelper()
			gh.mu.Lock()
			for path, v := range gh.secrets {
				note("GitHub", v, fmt.Sprintf("GitHub %s (%s)", path, step))
			}
			gh.mu.Unlock()
			v.set(func(v *vendor) {
				for id, key := range v.keys {
					note("vendor", key, "vendor key "+id)
				}
			})
			for _, ep := range fake.Endpoints() {
				note("Stripe endpoints", ep.Secret, "Stripe endpoint "+ep.ID)
			}
		}

		By("the first value of each")
		rollOutRevision(ns, 1)
		cluster.WaitForRevision(jwt, 1)
		passValidation(cookie, 1)
		passValidation(hook, 1)
		cluster.WaitForRevision(stripeKey, 1)
		passValidation(cy, 1)
		collect("revision 1")

		By("rotations: forced, emergency with a reason, a vendor key, a webhook twin")
		cluster.Annotate(jwt, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.Annotate(hook, rotationv1alpha1.RotateAnnotation, "t1")
		cluster.Annotate(cy, rotationv1alpha1.RotateAnnotation, "t1")
		rollOutRevision(ns, 2)
		cluster.WaitForRevision(jwt, 2)
		Expect(secretData(ns, "backend-env")).To(HaveKey("JWT_SECRET_PREVIOUS"))
		collect("jwt revision 2")
		cluster.Annotate(jwt, rotationv1alpha1.EmergencyAnnotation, "e1 leaked in CI logs")
		passValidation(hook, 2)
		passValidation(cy, 2)
		rollOutRevision(ns, 3)
		cluster.WaitForRevision(jwt, 3)
		collect("revision 2 and the emergency revision 3")

		By("a rotation whose smoke test fails is rolled back")
		cluster.Annotate(cookie, rotationv1alpha1.RotateAnnotation, "t1")
		waitForJob(ns, "cookie-smoke-r2")
		collect("cookie revision 2 under validation")
		finishJob(ns, "cookie-smoke-r2", false)
		expectStalled(cookie, rotationv1alpha1.ReasonRolledBack, "cookie-smoke-r2 failed")

		By("the Stripe key: a key of the wrong mode is refused, then a good one is promoted and the old one revoked")
		cluster.Annotate(stripeKey, rotationv1alpha1.RotateAnnotation, "t1")
		stage(keyWrongMode)
		expectStalled(stripeKey, rotationv1alpha1.ReasonInvalidSpec, "live-mode key")
		collect("stripe key refused")
		stage(keyB)
		clock.Step(time.Minute)
		poke(stripeKey)
		// The refused key used up a revision or two: wait for key B in the target and a committed rotation.
		Eventually(func(g Gomega) {
			g.Expect(secretValue(ns, "backend-env", "STRIPE_SECRET_KEY")).To(Equal(keyB))
			live := cluster.RotatedSecret(stripeKey)
			g.Expect(live.Status.Pending).To(BeNil())
			g.Expect(live.Status.CurrentRevision).To(BeNumerically(">=", 2))
		}, wait).Should(Succeed())
		collect("stripe key B")
		Eventually(func() []string { return eventReasons(stripeKey) }, wait).Should(ContainElement(rotationv1alpha1.ReasonRevocationRequired))
		fake.RevokeKey(keyA)
		clock.Step(2 * time.Hour)
		poke(stripeKey)
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(stripeKey).Status.Revocations }, wait).Should(BeEmpty())

		By("every Event of the rotations has arrived")
		for rs, reason := range map[*rotationv1alpha1.RotatedSecret]string{
			jwt: rotationv1alpha1.ReasonRotated, cookie: rotationv1alpha1.ReasonRolledBack, hook: rotationv1alpha1.ReasonOldCredentialRevoked,
			stripeKey: rotationv1alpha1.ReasonOldCredentialRevoked, cy: rotationv1alpha1.ReasonOldCredentialRevoked,
		} {
			Eventually(func() []string { return eventReasons(rs) }, wait).Should(ContainElement(reason), rs.Name)
		}
		collect("end")
		recorded := versions.finish()
		var rsVersions []*rotationv1alpha1.RotatedSecret
		var secretVersions []*corev1.Secret
		var jobVersions []*batchv1.Job
		var deploymentVersions []*appsv1.Deployment
		for _, obj := range recorded {
			switch o := obj.(type) {
			case *rotationv1alpha1.RotatedSecret:
				rsVersions = append(rsVersions, o)
			case *corev1.Secret:
				secretVersions = append(secretVersions, o)
			case *batchv1.Job:
				jobVersions = append(jobVersions, o)
			case *appsv1.Deployment:
				deploymentVersions = append(deploymentVersions, o)
			}
		}
		stagingOf := map[string]string{}
		for _, rs := range all {
			stagingOf[staging.Name(rs.Name)] = rs.Name
		}
		for _, sec := range secretVersions {
			for k, v := range sec.Data {
				where := fmt.Sprintf("Secret %s[%s] (resourceVersion %s)", sec.Name, k, sec.ResourceVersion)
				switch rsName, isStaging := stagingOf[sec.Name]; {
				case !isStaging:
					// Targets, credentials, the staged Stripe key: every key holds a value.
					note("Secret "+sec.Name, string(v), where)
				case stagingValueKey.MatchString(k) && stagingValueKey.FindStringSubmatch(k)[1] != stripe.OutputEndpointID:
					// A staging Secret also holds provider state (ids) under r<revision>-state, and the Stripe
					// webhook's endpoint_id output, the id of an endpoint: public identifiers that Events name.
					note("staging "+rsName, string(v), where)
				}
			}
		}

		By("the values collected are the ones of every provider, every revision")
		for source, n := range map[string]int{"staging jwt": 3, "staging cookie": 2, "staging " + hook.Name: 2,
			// the refused key of the wrong mode was staged too
			"staging " + stripeKey.Name: 3, "staging " + cy.Name: 4, // two keys and two partner ids
			"Secret backend-env": 13, "Secret stripe-staged": 3, "Secret github-token": 1, "GitHub": 3, "vendor": 2,
			"Stripe endpoints": 2, "credentials": 8} {
			Expect(len(sources[source])).To(BeNumerically(">=", n), "values seen in %s", source)
		}
		for v, where := range values {
			Expect(len(v)).To(BeNumerically(">=", 8), "a value this short would match by chance: %s", where)
		}
		scanner := newLeakScanner(values)
		// The scanner finds what it must: a window of a value inside other text, and a value's base64.
		Expect(scanner.find("probe", "note: "+adminToken[3:3+leakWindow]+"...")).NotTo(BeEmpty())
		Expect(scanner.find("probe", base64.StdEncoding.EncodeToString([]byte(keyB)))).NotTo(BeEmpty())
		Expect(scanner.find("probe", "sk_test_****"+keyB[len(keyB)-4:]+" hmac-sha256:0123456789ab")).To(BeEmpty(),
			"a masked key and a fingerprint are not values")

		var leaks []string
		scanned, texts := 0, 0
		scan := func(surface string, ts ...string) {
			for _, t := range ts {
				scanned, texts = scanned+len(t), texts+1
				leaks = append(leaks, scanner.find(surface, t)...)
			}
		}
		asJSON := func(v any) string {
			b, err := json.Marshal(v)
			Expect(err).NotTo(HaveOccurred())
			return string(b)
		}

		By("the operator's log")
		logs := op.logs.String()
		Expect(logs).To(ContainSubstring("DEBUG"), "the log is at debug level")
		scan("operator log", logs)

		By("Events")
		var evs eventsv1.EventList
		Expect(k8sClient.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		Expect(len(evs.Items)).To(BeNumerically(">", 20))
		for _, e := range evs.Items {
			where := fmt.Sprintf("Event %s %s", e.Regarding.Name, e.Reason)
			scan(where+" note", e.Note)
			scan(where+" reason", e.Reason)
			scan(where, asJSON(e))
		}

		By("RotatedSecrets, every version: status, conditions, labels and annotations other than the request tokens")
		for _, rs := range all {
			rsVersions = append(rsVersions, cluster.RotatedSecret(rs))
		}
		Expect(len(rsVersions)).To(BeNumerically(">", 50))
		for _, rs := range rsVersions {
			scan("status of "+rs.Name, asJSON(rs.Status))
			for _, c := range rs.Status.Conditions {
				scan(fmt.Sprintf("condition %s of %s", c.Type, rs.Name), c.Message)
			}
			for k, v := range rs.Labels {
				scan(fmt.Sprintf("label %s of %s", k, rs.Name), k, v)
			}
			for k, v := range rs.Annotations {
				if k != rotationv1alpha1.RotateAnnotation && k != rotationv1alpha1.EmergencyAnnotation {
					scan(fmt.Sprintf("annotation %s of %s", k, rs.Name), k, v)
				}
			}
		}

		By("the staging and target Secrets' metadata, the validation Jobs and the restarted Deployments, every version")
		for _, name := range []string{"backend-env", staging.Name(jwt.Name), staging.Name(cookie.Name), staging.Name(hook.Name),
			staging.Name(stripeKey.Name), staging.Name(cy.Name)} {
			var live corev1.Secret
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &live)).To(Succeed())
			Expect(live.Labels).To(HaveKeyWithValue(rotationv1alpha1.ManagedLabel, "true"))
			secretVersions = append(secretVersions, &live)
		}
		for _, sec := range secretVersions {
			if sec.Name != "backend-env" && stagingOf[sec.Name] == "" {
				continue // written by the test
			}
			for k, v := range sec.Labels {
				scan(fmt.Sprintf("label %s of Secret %s", k, sec.Name), k, v)
			}
			for k, v := range sec.Annotations {
				scan(fmt.Sprintf("annotation %s of Secret %s", k, sec.Name), k, v)
			}
			scan("metadata of Secret "+sec.Name, asJSON(sec.ObjectMeta))
		}
		Expect(len(jobVersions)).To(BeNumerically(">=", 5))
		for _, j := range jobVersions {
			scan("Job "+j.Name, asJSON(j))
		}
		Expect(len(deploymentVersions)).To(BeNumerically(">=", 6))
		for _, d := range deploymentVersions {
			scan("Deployment "+d.Name, asJSON(d))
		}

		By("metrics")
		families, err := ctrlmetrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		var text bytes.Buffer
		for _, mf := range families {
			_, err := expfmt.MetricFamilyToText(&text, mf)
			Expect(err).NotTo(HaveOccurred())
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					scan(fmt.Sprintf("metric %s label %s", mf.GetName(), l.GetName()), l.GetValue())
				}
			}
		}
		Expect(text.String()).To(ContainSubstring(fmt.Sprintf(`secret_rotator_rotations_total{name="jwt",namespace="%s",trigger="Emergency"} 1`, ns)))
		scan("metrics text", text.String())

		sort.Strings(leaks)
		_, _ = fmt.Fprintf(GinkgoWriter, "Leak check: %d values (%d forms and windows) in %d texts, %d bytes (log %d bytes, %d Events, "+
			"%d RotatedSecret versions)\n", len(values), scanner.size(), texts, scanned, len(logs), len(evs.Items), len(rsVersions))
		Expect(leaks).To(BeEmpty(), "%d values checked", len(values))
	})
})
