package controllers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fixture"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
)

// stripeFront stands between the operator and a real stripe-mock on 127.0.0.1. It counts the endpoint creations
// Stripe carries out, by the revision the operator writes into the endpoint's metadata, honours Idempotency-Key on
// them as Stripe does (stripe-mock keeps no state), and adds the signing secret Stripe returns with a new endpoint
// (stripe-mock returns none). stopBeforeCreate arms an outage that
// starts the moment the operator has read the endpoint it is about to copy, stopAfterCreate one that starts once
// Stripe has carried out the create, before its answer is sent: stripe-mock is stopped by its PID and the
// front's own address refuses connections until up.
type stripeFront struct {
	mock  *stripetest.Mock
	proxy *httputil.ReverseProxy
	srv   *http.Server
	addr  string

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
	ln    net.Listener
	// stop is the armed outage: stopBeforeCreate, stopAfterCreate or "".
	stop string
	// creates counts the endpoint creations stripe-mock carried out, by metadata revision; answers holds each
	// one's answer by Idempotency-Key.
	creates map[string]int
	answers map[string]*httptest.ResponseRecorder
	// secrets holds the signing secret handed out with each endpoint, by revision.
	secrets map[string]string
	// ids holds the id of the endpoint created for each revision.
	ids   map[string]string
	calls []string
}

type revisionKey struct{}

// Moments a stripeFront outage starts at.
const (
	stopBeforeCreate = "before-create"
	stopAfterCreate  = "after-create"
)

func newStripeFront() *stripeFront {
	GinkgoHelper()
	script, err := filepath.Abs("../hack/stripe-mock.sh")
	Expect(err).NotTo(HaveOccurred())
	bin, err := stripetest.MockBinary(script)
	if err != nil {
		Skip("stripe-mock is not available (set STRIPE_MOCK to a stripe-mock binary): " + err.Error())
	}
	mock, err := stripetest.StartMock(bin)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(mock.Stop)
	f := &stripeFront{mock: mock, conns: map[net.Conn]http.ConnState{}, creates: map[string]int{},
		answers: map[string]*httptest.ResponseRecorder{}, secrets: map[string]string{}, ids: map[string]string{}}
	target, err := url.Parse(mock.URL())
	Expect(err).NotTo(HaveOccurred())
	f.proxy = httputil.NewSingleHostReverseProxy(target)
	f.proxy.Transport = &http.Transport{}
	f.proxy.ModifyResponse = f.addSecret
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ConnState: f.track}
	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	f.addr = f.ln.Addr().String()
	go func() { _ = f.srv.Serve(f.ln) }()
	DeferCleanup(f.srv.Close)
	return f
}

// URL is the base URL the operator's Stripe providers get.
func (f *stripeFront) URL() string { return "http://" + f.addr }

func (f *stripeFront) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(f.conns, c)
		return
	}
	f.conns[c] = st
}

func (f *stripeFront) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	create := r.Method == http.MethodPost && r.URL.Path == "/v1/webhook_endpoints"
	stop := f.stop == stopBeforeCreate && r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/webhook_endpoints/") ||
		f.stop == stopAfterCreate && create
	f.mu.Unlock()
	switch {
	case create:
		f.create(w, r, stop)
	case stop:
		// The operator has read the endpoint it copies and is about to record its create-pending marker and
		// create the twin: Stripe stops now. This answer closes its connection, and it is not sent before this
		// handler returns, so the create that follows can only dial a closed address.
		w.Header().Set("Connection", "close")
		f.proxy.ServeHTTP(w, r)
		f.down()
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

// create forwards an endpoint creation once per Idempotency-Key, as Stripe carries out a request once per key
// and answers a repeat with the first answer (stripe-go sends a key with every POST, and Go's transport repeats
// such a request by itself when a reused connection dies under it). With stop, Stripe stops after it created the
// endpoint: the front refuses connections from then on and this one closes without an answer.
func (f *stripeFront) create(w http.ResponseWriter, r *http.Request, stop bool) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	rev := form.Get("metadata[" + stripe.MetaRevision + "]")
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = rand.Text() // without a key, every request is carried out
	}
	f.mu.Lock()
	answer, repeat := f.answers[key]
	if !repeat {
		f.creates[rev]++
	}
	f.mu.Unlock()
	if !repeat {
		answer = httptest.NewRecorder()
		f.proxy.ServeHTTP(answer, r.WithContext(context.WithValue(r.Context(), revisionKey{}, rev)))
		f.mu.Lock()
		f.answers[key] = answer
		f.mu.Unlock()
	}
	if stop {
		f.down()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	for k, v := range answer.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(answer.Code)
	_, _ = w.Write(answer.Body.Bytes())
}

// addSecret adds to a created endpoint the signing secret Stripe returns only then, and records it.
func (f *stripeFront) addSecret(resp *http.Response) error {
	rev, ok := resp.Request.Context().Value(revisionKey{}).(string)
	if !ok || resp.StatusCode != http.StatusOK {
		return nil
	}
	var ep map[string]any
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, &ep); err != nil {
		return err
	}
	secret := "whsec_" + rand.Text()
	ep["secret"] = secret
	if body, err = json.Marshal(ep); err != nil {
		return err
	}
	f.mu.Lock()
	f.secrets[rev], f.ids[rev] = secret, ep["id"].(string)
	f.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// arm makes the next moment (stopBeforeCreate: a read of one webhook endpoint; stopAfterCreate: a create)
// start an outage.
func (f *stripeFront) arm(moment string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stop = moment
}

// down stops stripe-mock and makes the front's address refuse connections; idle connections are closed, so none
// is reused to reach the front.
func (f *stripeFront) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stop = ""
	_ = f.ln.Close()
	for c, st := range f.conns {
		if st == http.StateIdle || st == http.StateNew {
			_ = c.Close()
		}
	}
	f.mock.Stop()
}

// up starts stripe-mock again on its address, and the front on its own.
func (f *stripeFront) up() {
	GinkgoHelper()
	Expect(f.mock.Start()).To(Succeed())
	f.proxy.Transport.(*http.Transport).CloseIdleConnections()
	ln, err := net.Listen("tcp", f.addr)
	Expect(err).NotTo(HaveOccurred())
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() { _ = f.srv.Serve(ln) }()
}

func (f *stripeFront) createsFor(rev int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates[strconv.Itoa(rev)]
}

func (f *stripeFront) createsTotal() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.creates {
		n += c
	}
	return n
}

func (f *stripeFront) secretFor(rev int) (id, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[strconv.Itoa(rev)], f.secrets[strconv.Itoa(rev)]
}

func (f *stripeFront) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var _ = Describe("A Stripe outage", func() {
	var ns string
	var front *stripeFront
	var op *operator
	var rs *rotationv1alpha1.RotatedSecret
	var id1, secret1 string

	// Revision 1 is a twin of we_orig, which is deleted once the revision commits.
	BeforeEach(func() {
		ns = cluster.NewNamespace("t-")
		front = newStripeFront()
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stripe-admin"},
			StringData: map[string]string{"api-key": webhookOperatorKey}})).To(Succeed())
		hooks, err := stripe.NewWebhook(stripe.Options{BaseURL: front.URL()})
		Expect(err).NotTo(HaveOccurred())
		op = startOperator(operatorOptions{providers: provider.Registry{provider.KindStripeWebhook: hooks}}, ns)
		DeferCleanup(op.stop)
		rs = stripeWebhookSecret(ns)
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		passValidation(rs, 1)
		id1, secret1 = front.secretFor(1)
		Expect(id1).To(HavePrefix("we_"))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(secret1))
		Eventually(front.called, wait).Should(ContainElement("DELETE /v1/webhook_endpoints/we_orig"))
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Expect(front.createsFor(1)).To(Equal(1))
	})

	It("backs off while stripe-mock is stopped for ten minutes as a webhook endpoint is about to be created, creates one endpoint, and finishes when it is back", func() {
		By("Stripe stops as the rotation is about to create the twin of revision 1's endpoint")
		front.arm(stopBeforeCreate)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "during-outage")
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "(attempt 1; next attempt in 10s")
		c := fixture.Condition(cluster.RotatedSecret(rs), rotationv1alpha1.ConditionStalled)
		Expect(c.Message).To(And(ContainSubstring("creating a twin of webhook endpoint "+id1), ContainSubstring("connection refused")),
			"the create itself was refused: the marker was recorded, nothing reached Stripe")
		Expect(front.createsFor(2)).To(BeZero())

		By("no clock step, no new attempt: the operator waits out its backoff")
		poke(rs)
		Consistently(func() int32 { return cluster.RotatedSecret(rs).Status.FailedAttempts }, 2*time.Second, 200*time.Millisecond).Should(BeEquivalentTo(1))

		By("ten minutes on the operator's clock: every attempt waits its backoff, fails, and says when the next one runs")
		var messages []string
		outage := time.Duration(0)
		for outage < 10*time.Minute {
			got := cluster.RotatedSecret(rs)
			attempts := got.Status.FailedAttempts
			step := policy.Backoff(attempts) + time.Second
			clock.Step(step)
			outage += step
			poke(rs)
			Eventually(func() int32 { return cluster.RotatedSecret(rs).Status.FailedAttempts }, wait).Should(Equal(attempts + 1))
			got = cluster.RotatedSecret(rs)
			Expect(got.Status.LastFailureTime).NotTo(BeNil())
			Expect(got.Status.LastFailureTime.Time).To(BeTemporally("~", clock.Now(), time.Second))
			c := fixture.Condition(got, rotationv1alpha1.ConditionStalled)
			Expect(c.Reason).To(Equal(rotationv1alpha1.ReasonProviderFailed))
			Expect(c.Message).To(ContainSubstring("next attempt in " + policy.Backoff(attempts+1).String()))
			messages = append(messages, c.Message)
		}
		got := cluster.RotatedSecret(rs)
		Expect(got.Status.FailedAttempts).To(BeNumerically(">=", 6), "10s, 20s, 40s, 80s, 160s, 320s")
		Expect(got.Status.Pending).To(HaveField("Step", rotationv1alpha1.StepDecided), "nothing staged while Stripe is down")
		Expect(got.Status.CurrentRevision).To(BeEquivalentTo(1), "no rotation completes during the outage")
		Expect(fixture.Condition(got, rotationv1alpha1.ConditionStalled).Message).To(ContainSubstring("reading webhook endpoint " + id1))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(secret1), "the secret in service stays")
		Expect(front.createsFor(2)).To(BeZero(), "nothing reached Stripe")

		By("Stripe is back: the same rotation finishes after its backoff, with one new endpoint")
		front.up()
		clock.Step(policy.Backoff(got.Status.FailedAttempts) + time.Second)
		poke(rs)
		got = passValidation(rs, 2)
		id2, secret2 := front.secretFor(2)
		Expect(id2).NotTo(Equal(id1))
		Expect(got.Status.History).To(HaveLen(2), "one rotation, however many attempts")
		Expect(front.createsFor(2)).To(Equal(1), "no endpoint created twice")
		Expect(front.createsTotal()).To(Equal(2))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(secret2))
		Expect(got.Status.CurrentFingerprint).To(Equal(keyer.Of(provider.Values{provider.DefaultOutput: []byte(secret2),
			stripe.OutputEndpointID: []byte(id2)})), "revision 2's value is the endpoint created when Stripe was back")
		Eventually(front.called, wait).Should(ContainElement("DELETE /v1/webhook_endpoints/"+id1),
			"revision 1's endpoint is deleted once revision 2 committed")
		Eventually(func() []rotationv1alpha1.Revocation { return cluster.RotatedSecret(rs).Status.Revocations }, wait).Should(BeEmpty())
		Expect(front.called()).NotTo(ContainElement("DELETE /v1/webhook_endpoints/"+id2), "the endpoint in service stays")

		By("no secret in conditions, Events or logs")
		for _, e := range events(rs) {
			messages = append(messages, e.Note)
		}
		for _, c := range cluster.RotatedSecret(rs).Status.Conditions {
			messages = append(messages, c.Message)
		}
		Expect(messages).NotTo(ContainElement(ContainSubstring("whsec_")))
		Expect(messages).NotTo(ContainElement(ContainSubstring(webhookOperatorKey[8:])))
		for _, s := range []string{secret1, secret2, webhookOperatorKey[8:]} {
			Expect(op.logs.String()).NotTo(ContainSubstring(s))
		}
	})

	It("backs off when Stripe stops after creating the endpoint and before answering, and once it is back repeats the create with the same idempotency key: one endpoint", func() {
		front.arm(stopAfterCreate)
		cluster.Annotate(rs, rotationv1alpha1.RotateAnnotation, "during-outage")
		expectStalled(rs, rotationv1alpha1.ReasonProviderFailed, "same idempotency key")
		Expect(front.createsFor(2)).To(Equal(1), "Stripe created the endpoint; its answer was lost")
		id2, secret2 := front.secretFor(2)
		Expect(secret2).To(HavePrefix("whsec_"))

		By("ten minutes on the operator's clock while Stripe is down: attempts fail, nothing is created again")
		clock.Step(10 * time.Minute)
		poke(rs)
		Eventually(func() int32 { return cluster.RotatedSecret(rs).Status.FailedAttempts }, wait).Should(BeEquivalentTo(2))
		Expect(front.createsFor(2)).To(Equal(1))
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(secret1), "the secret in service stays")

		By("Stripe is back: after the backoff the repeat is answered with the first create's endpoint")
		front.up()
		clock.Step(policy.Backoff(2) + time.Second)
		poke(rs)
		passValidation(rs, 2)
		Expect(front.createsFor(2)).To(Equal(1), "no endpoint created twice")
		Expect(secretValue(ns, "backend-env", webhookKey)).To(Equal(secret2))
		Eventually(front.called, wait).Should(ContainElement("DELETE /v1/webhook_endpoints/" + id1))
		Expect(front.called()).NotTo(ContainElement("DELETE /v1/webhook_endpoints/" + id2))
		messages := visibleMessages(rs)
		Expect(messages).NotTo(ContainElement(ContainSubstring("whsec_")))
		Expect(op.logs.String()).NotTo(ContainSubstring(secret2[6:]))
	})
})
