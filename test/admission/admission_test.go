// Package admission checks what the API server refuses at apply. One table lists every malformed spec the CRD
// schema and its CEL rules refuse, each with the field path the error must name; the valid base they are made
// from and every sample in config/samples must be accepted. It needs a real kube-apiserver and etcd
// (KUBEBUILDER_ASSETS, as `make test` sets it).
package admission

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/testgen"
)

// namespace holds every object the test creates.
const namespace = "admission"

// Short names keep the table one line a row.
type (
	rs   = rotationv1alpha1.RotatedSecret
	hp   = rotationv1alpha1.HTTPProvider
	sw   = rotationv1alpha1.StripeWebhookProvider
	sk   = rotationv1alpha1.StripeSecretKeyProvider
	tg   = rotationv1alpha1.Target
	expr = metav1.LabelSelectorRequirement
)

// base is the valid RotatedSecret every row breaks in one place. It sits on the edges the rules must keep:
// timeouts of exactly 1m, a grace period of 0m, a workload name with a dot, a stage selecting by labels and by
// expressions (In with values, DoesNotExist without).
func base(name string) *rs {
	workers := testgen.Stage("workers", "1m", "esim-worker")
	workers.Workloads = append(workers.Workloads, rotationv1alpha1.WorkloadRef{Kind: rotationv1alpha1.KindStatefulSet, Name: "esim.cache", Namespace: "esim"})
	api := rotationv1alpha1.RolloutStage{Name: "api", Timeout: "10m", Selector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"app.kubernetes.io/part-of": "backend", "tier": "api"},
		MatchExpressions: []expr{
			{Key: "track", Operator: metav1.LabelSelectorOpIn, Values: []string{"stable", "canary"}},
			{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist},
		},
	}}
	return testgen.RotatedSecret(name, namespace,
		testgen.WithTarget("backend-env", "JWT_SECRET"),
		testgen.WithPrevious("_PREVIOUS", "0m"),
		testgen.WithRollout(workers, api),
		testgen.WithValidation(rotationv1alpha1.FailureRollback, "1m", "smoke"))
}

// useHTTP replaces the provider with a valid http provider, then lets edit break it.
func useHTTP(r *rs, edit func(*hp)) {
	h := &hp{
		Auth:     rotationv1alpha1.HTTPAuth{SecretRef: rotationv1alpha1.SecretKeyRef{Name: "vendor-admin", Key: "token"}},
		Generate: rotationv1alpha1.HTTPRequest{URL: "https://api.vendor.example/v1/keys"},
		Outputs:  map[string]string{"value": "{.api_key}", "partner_id": "{.partner_id}"},
		ID:       "{.id}",
		Verify:   &rotationv1alpha1.HTTPVerify{URL: "https://api.vendor.example/v1/ping", AuthWith: "value"},
		Revoke:   &rotationv1alpha1.HTTPRequest{Method: "DELETE", URL: "https://api.vendor.example/v1/keys/{{ .ID }}"},
	}
	edit(h)
	r.Spec.Provider = rotationv1alpha1.ProviderSpec{HTTP: h}
}

// useStripeWebhook replaces the provider with a valid stripeWebhook provider, then lets edit break it.
func useStripeWebhook(r *rs, edit func(*sw)) {
	p := &rotationv1alpha1.StripeWebhookProvider{APIKeySecretRef: rotationv1alpha1.SecretKeyRef{Name: "stripe-admin", Key: "key"}, EndpointID: "we_1Nx2"}
	edit(p)
	r.Spec.Provider = rotationv1alpha1.ProviderSpec{StripeWebhook: p}
}

// useStripeKey replaces the provider with a valid stripeSecretKey provider, then lets edit break it.
func useStripeKey(r *rs, edit func(*sk)) {
	p := &rotationv1alpha1.StripeSecretKeyProvider{StagedSecretRef: rotationv1alpha1.SecretKeyRef{Name: "stripe-staged", Key: "key"}, Mode: rotationv1alpha1.StripeModeLive,
		Probes: &rotationv1alpha1.StripeProbes{Allow: []rotationv1alpha1.StripeProbe{{Path: "/v1/payment_intents?limit=1"}}}}
	edit(p)
	r.Spec.Provider = rotationv1alpha1.ProviderSpec{StripeSecretKey: p}
}

// addGitHub adds a valid GitHub Actions target, then lets edit (when not nil) break it.
func addGitHub(r *rs, edit func(*tg)) {
	t := rotationv1alpha1.Target{GitHubActions: &rotationv1alpha1.GitHubActionsTarget{Repository: "tribi/backend", Name: "BACKEND_JWT_SECRET", Environment: "production",
		TokenSecretRef: rotationv1alpha1.SecretKeyRef{Name: "github-token", Key: "token"}}}
	if edit != nil {
		edit(&t)
	}
	r.Spec.Targets = append(r.Spec.Targets, t)
}

// stages returns n valid stages named s0, s1, ...
func stages(n int) []rotationv1alpha1.RolloutStage {
	out := make([]rotationv1alpha1.RolloutStage, n)
	for i := range out {
		out[i] = testgen.Stage("s"+strconv.Itoa(i), "10m", "app")
	}
	return out
}

// targets returns n valid targets, keys K0, K1, ...
func targets(n int) []rotationv1alpha1.Target {
	out := make([]rotationv1alpha1.Target, n)
	for i := range out {
		out[i] = rotationv1alpha1.Target{SecretName: "backend-env", Key: "K" + strconv.Itoa(i)}
	}
	return out
}

// selector gives the second stage one match expression on key tier.
func selector(r *rs, op metav1.LabelSelectorOperator, values []string) {
	r.Spec.Rollout.Stages[1].Selector.MatchExpressions = []expr{{Key: "tier", Operator: op, Values: values}}
}

// addKey adds a target writing key in Secret backend-env.
func addKey(r *rs, key string) {
	r.Spec.Targets = append(r.Spec.Targets, tg{SecretName: "backend-env", Key: key})
}

// workloads returns n Deployments.
func workloads(n int) []rotationv1alpha1.WorkloadRef {
	return testgen.Stage("workers", "1m", slices.Repeat([]string{"w"}, n)...).Workloads
}

// unset removes a field from the object as sent, for fields the Go type always writes. A number in the path
// indexes a list.
func unset(path ...string) func(map[string]any) {
	return func(obj map[string]any) { delete(parent(obj, path), path[len(path)-1]) }
}

// set writes a field of the object as sent, for values the Go type leaves out (an empty list).
func set(value any, path ...string) func(map[string]any) {
	return func(obj map[string]any) { parent(obj, path)[path[len(path)-1]] = value }
}

// parent walks path to the map holding its last element.
func parent(obj map[string]any, path []string) map[string]any {
	var node any = obj
	for i, p := range path[:len(path)-1] {
		switch n := node.(type) {
		case map[string]any:
			node = n[p]
		case []any:
			idx, err := strconv.Atoi(p)
			if err != nil || idx >= len(n) {
				panic("no list item " + strings.Join(path[:i+1], "."))
			}
			node = n[idx]
		}
	}
	m, ok := node.(map[string]any)
	if !ok {
		panic("no object at " + strings.Join(path[:len(path)-1], "."))
	}
	return m
}

// refused lists malformed specs, one a row: how the base is broken, the field path the API server's message must
// name, and a piece of the message that says what is wrong. raw edits the object as sent, after edit.
var refused = []struct {
	name  string
	edit  func(*rs)
	raw   func(map[string]any)
	field string
	says  string
}{
	// A rule on the object itself cannot point at metadata.name (fieldPath must be in the schema): the API server
	// reports the path as <nil>, and the message names the field.
	{"metadata.name too long for the staging Secret", func(r *rs) { r.Name, r.Spec.Validation = strings.Repeat("n", 245), nil }, nil, "<nil>", "metadata.name must be at most 244 characters"},
	{"owner missing", nil, unset("spec", "owner"), "spec.owner", "Required value"},
	{"owner empty", func(r *rs) { r.Spec.Owner = "" }, nil, "spec.owner", "at least 1 chars long"},
	{"owner too long", func(r *rs) { r.Spec.Owner = strings.Repeat("o", 257) }, nil, "spec.owner", "Too long"},
	{"description too long", func(r *rs) { r.Spec.Description = strings.Repeat("d", 1025) }, nil, "spec.description", "Too long"},
	{"ttl missing", nil, unset("spec", "ttl"), "spec.ttl", "Required value"},
	{"ttl without unit", func(r *rs) { r.Spec.TTL = "90" }, nil, "spec.ttl", "whole number followed by d, h or m"},
	{"ttl in seconds", func(r *rs) { r.Spec.TTL = "3600s" }, nil, "spec.ttl", "whole number followed by d, h or m"},
	{"ttl with a fraction", func(r *rs) { r.Spec.TTL = "1.5h" }, nil, "spec.ttl", "whole number followed by d, h or m"},
	{"ttl in Go syntax", func(r *rs) { r.Spec.TTL = "1h30m" }, nil, "spec.ttl", "whole number followed by d, h or m"},
	{"ttl under 1h", func(r *rs) { r.Spec.TTL = "59m" }, nil, "spec.ttl", "ttl must be at least 1h"},
	{"no provider", func(r *rs) { r.Spec.Provider = rotationv1alpha1.ProviderSpec{} }, nil, "spec.provider", "exactly one provider must be set"},
	{"two providers", func(r *rs) { useHTTP(r, func(*hp) {}); r.Spec.Provider.Random = &rotationv1alpha1.RandomProvider{} }, nil, "spec.provider", "exactly one provider must be set"},
	{"random length under 16", func(r *rs) { r.Spec.Provider.Random.Length = 8 }, nil, "spec.provider.random.length", "greater than or equal to 16"},
	{"random length over 512", func(r *rs) { r.Spec.Provider.Random.Length = 1024 }, nil, "spec.provider.random.length", "less than or equal to 512"},
	{"random encoding unknown", func(r *rs) { r.Spec.Provider.Random.Encoding = "base32" }, nil, "spec.provider.random.encoding", "Unsupported value"},
	{"http generate URL not https", func(r *rs) { useHTTP(r, func(h *hp) { h.Generate.URL = "http://api.vendor.example/v1/keys" }) }, nil, "spec.provider.http.generate.url", "must be an https URL"},
	{"http revoke URL not https", func(r *rs) { useHTTP(r, func(h *hp) { h.Revoke.URL = "ftp://api.vendor.example/keys" }) }, nil, "spec.provider.http.revoke.url", "must be an https URL"},
	{"http method unknown", func(r *rs) { useHTTP(r, func(h *hp) { h.Generate.Method = "FETCH" }) }, nil, "spec.provider.http.generate.method", "Unsupported value"},
	{"http no outputs", func(r *rs) { useHTTP(r, func(h *hp) { h.Outputs, h.Verify = map[string]string{}, nil }) }, nil, "spec.provider.http.outputs", "at least 1 properties"},
	{"http output name with '-'", func(r *rs) { useHTTP(r, func(h *hp) { h.Outputs["api-key"] = "{.key}" }) }, nil, "spec.provider.http.outputs", "output names must be 1 to 63 letters, digits or '_'"},
	{"http output name with '.'", func(r *rs) { useHTTP(r, func(h *hp) { h.Outputs["r1.value"] = "{.key}" }) }, nil, "spec.provider.http.outputs", "output names must be 1 to 63 letters, digits or '_'"},
	{"http output name too long", func(r *rs) { useHTTP(r, func(h *hp) { h.Outputs[strings.Repeat("k", 64)] = "{.key}" }) }, nil, "spec.provider.http.outputs", "output names must be 1 to 63 letters, digits or '_'"},
	{"http revoke without id", func(r *rs) { useHTTP(r, func(h *hp) { h.ID = "" }) }, nil, "spec.provider.http", "revoke needs id"},
	{"http verify.authWith bad chars", func(r *rs) { useHTTP(r, func(h *hp) { h.Verify.AuthWith = "api-key" }) }, nil, "spec.provider.http.verify.authWith", "letters, digits and '_' only"},
	{"http verify.authWith not an output", func(r *rs) { useHTTP(r, func(h *hp) { h.Verify.AuthWith = "token" }) }, nil, "spec.provider.http.verify.authWith", "must name one of outputs"},
	{"http auth secretRef without name", func(r *rs) { useHTTP(r, func(h *hp) { h.Auth.SecretRef.Name = "" }) }, nil, "spec.provider.http.auth.secretRef.name", "at least 1 chars long"},
	{"stripe endpointID not we_", func(r *rs) { useStripeWebhook(r, func(p *sw) { p.EndpointID = "ep_1Nx2" }) }, nil, "spec.provider.stripeWebhook.endpointID", "should match"},
	{"stripe endpointID and url", func(r *rs) { useStripeWebhook(r, func(p *sw) { p.URL = "https://api.tribi.example/stripe" }) }, nil, "spec.provider.stripeWebhook", "set exactly one of endpointID or url"},
	{"stripe key mode unknown", func(r *rs) { useStripeKey(r, func(p *sk) { p.Mode = "prod" }) }, nil, "spec.provider.stripeSecretKey.mode", "Unsupported value"},
	{"stripe probe path outside /v1/", func(r *rs) { useStripeKey(r, func(p *sk) { p.Probes.Allow[0].Path = "/v2/charges" }) }, nil, "spec.provider.stripeSecretKey.probes.allow[0].path", "should match"},
	{"no targets", func(r *rs) { r.Spec.Targets = []tg{} }, nil, "spec.targets", "at least 1 items"},
	{"too many targets", func(r *rs) { r.Spec.Targets = targets(17) }, nil, "spec.targets", "Too many"},
	{"two targets write the same key", func(r *rs) { addKey(r, "JWT_SECRET") }, nil, "spec.targets", "two targets write the same Secret key"},
	{"two targets write the same GitHub secret", func(r *rs) { addGitHub(r, nil); addGitHub(r, nil) }, nil, "spec.targets", "the same GitHub secret"},
	{"target with secretName and githubActions", func(r *rs) { addGitHub(r, func(t *tg) { t.SecretName, t.Key = "backend-env", "X" }) }, nil, "spec.targets[1]", "set exactly one of secretName (with key) or githubActions"},
	{"target with neither secretName nor githubActions", func(r *rs) { r.Spec.Targets[0].SecretName = "" }, nil, "spec.targets[0]", "set exactly one of secretName (with key) or githubActions"},
	{"target key missing", func(r *rs) { r.Spec.Targets[0].Key = "" }, nil, "spec.targets[0]", "key is required with secretName"},
	{"target key with a space", func(r *rs) { r.Spec.Targets[0].Key = "JWT SECRET" }, nil, "spec.targets[0].key", "should match"},
	{"target secretName upper-case", func(r *rs) { r.Spec.Targets[0].SecretName = "Backend-Env" }, nil, "spec.targets[0].secretName", "should match"},
	{"target namespace not a DNS label", func(r *rs) { r.Spec.Targets[0].Namespace = "team_a" }, nil, "spec.targets[0].namespace", "should match"},
	{"target from with '-'", func(r *rs) { r.Spec.Targets[0].From = "partner-id" }, nil, "spec.targets[0].from", "should match"},
	{"github repository without owner", func(r *rs) { addGitHub(r, func(t *tg) { t.GitHubActions.Repository = "backend" }) }, nil, "spec.targets[1].githubActions.repository", "should match"},
	{"github secret name starting with a digit", func(r *rs) { addGitHub(r, func(t *tg) { t.GitHubActions.Name = "1JWT" }) }, nil, "spec.targets[1].githubActions.name", "should match"},
	{"previous suffix collides with a key", func(r *rs) { addKey(r, "JWT_SECRET_PREVIOUS") }, nil, "spec.previous.suffix", "collide with a target key"},
	{"previous suffix with a slash", func(r *rs) { r.Spec.Previous.Suffix = "/old" }, nil, "spec.previous.suffix", "should match"},
	{"previous gracePeriod in weeks", func(r *rs) { r.Spec.Previous.GracePeriod = "1w" }, nil, "spec.previous.gracePeriod", "whole number followed by d, h or m"},
	{"revisionHistoryLimit 0", func(r *rs) { r.Spec.RevisionHistoryLimit = ptr.To(int32(0)) }, nil, "spec.revisionHistoryLimit", "greater than or equal to 1"},
	{"revisionHistoryLimit over 100", func(r *rs) { r.Spec.RevisionHistoryLimit = ptr.To(int32(101)) }, nil, "spec.revisionHistoryLimit", "less than or equal to 100"},
	{"no stages", func(r *rs) { r.Spec.Rollout.Stages = nil }, nil, "spec.rollout.stages", "Required value"},
	{"too many stages", func(r *rs) { r.Spec.Rollout.Stages = stages(11) }, nil, "spec.rollout.stages", "Too many"},
	{"duplicate stage names", func(r *rs) { r.Spec.Rollout.Stages[1].Name = "workers" }, nil, "spec.rollout.stages[1]", "Duplicate value"},
	{"stage name upper-case", func(r *rs) { r.Spec.Rollout.Stages[0].Name = "Workers" }, nil, "spec.rollout.stages[0].name", "should match"},
	{"stage with neither workloads nor selector", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads = nil }, nil, "spec.rollout.stages[0]", "a stage needs workloads or a selector"},
	{"stage timeout 0m", func(r *rs) { r.Spec.Rollout.Stages[0].Timeout = "0m" }, nil, "spec.rollout.stages[0].timeout", "timeout must be at least 1m"},
	{"stage timeout 00h", func(r *rs) { r.Spec.Rollout.Stages[1].Timeout = "00h" }, nil, "spec.rollout.stages[1].timeout", "timeout must be at least 1m"},
	{"stage timeout in seconds", func(r *rs) { r.Spec.Rollout.Stages[0].Timeout = "30s" }, nil, "spec.rollout.stages[0].timeout", "whole number followed by d, h or m"},
	{"too many workloads", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads = workloads(51) }, nil, "spec.rollout.stages[0].workloads", "Too many"},
	{"workload kind Job", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads[0].Kind = "Job" }, nil, "spec.rollout.stages[0].workloads[0].kind", "Unsupported value"},
	{"workload name with a space", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads[0].Name = "esim worker" }, nil, "spec.rollout.stages[0].workloads[0].name", "name must be a DNS subdomain"},
	{"workload name upper-case", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads[0].Name = "EsimWorker" }, nil, "spec.rollout.stages[0].workloads[0].name", "name must be a DNS subdomain"},
	{"workload namespace with '_'", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads[1].Namespace = "esim_prod" }, nil, "spec.rollout.stages[0].workloads[1].namespace", "namespace must be a DNS label"},
	{"workload namespace with '.'", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads[1].Namespace = "esim.prod" }, nil, "spec.rollout.stages[0].workloads[1].namespace", "namespace must be a DNS label"},
	{"workload namespace over 63", func(r *rs) { r.Spec.Rollout.Stages[0].Workloads[1].Namespace = strings.Repeat("n", 64) }, nil, "spec.rollout.stages[0].workloads[1].namespace", "Too long"},
	{"selector expression without key", func(r *rs) { selector(r, "Exists", nil) }, unset("spec", "rollout", "stages", "1", "selector", "matchExpressions", "0", "key"), "spec.rollout.stages[1].selector.matchExpressions[0].key", "Required value"},
	{"selector expression without operator", func(r *rs) { selector(r, "", nil) }, unset("spec", "rollout", "stages", "1", "selector", "matchExpressions", "0", "operator"), "spec.rollout.stages[1].selector.matchExpressions[0].operator", "Required value"},
	{"validation jobs empty", nil, set([]any{}, "spec", "validation", "jobs"), "spec.validation.jobs", "at least 1 items"},
	{"validation job name upper-case", func(r *rs) { r.Spec.Validation.Jobs[0].Name = "Smoke" }, nil, "spec.validation.jobs[0].name", "should match"},
	{"validation job name over 40", func(r *rs) { r.Spec.Validation.Jobs[0].Name = strings.Repeat("j", 41) }, nil, "spec.validation.jobs[0].name", "Too long"},
	{"validation Job name over 63", func(r *rs) { r.Name, r.Spec.Validation.Jobs[0].Name = strings.Repeat("n", 30), strings.Repeat("j", 24) }, nil, "spec.validation.jobs", "together must be at most 53 characters"},
	{"duplicate validation job names", func(r *rs) { r.Spec.Validation.Jobs = append(r.Spec.Validation.Jobs, r.Spec.Validation.Jobs[0]) }, nil, "spec.validation.jobs[1]", "Duplicate value"},
	{"validation job template missing", nil, unset("spec", "validation", "jobs", "0", "template"), "spec.validation.jobs[0].template", "Required value"},
	{"validation timeout 0m", func(r *rs) { r.Spec.Validation.Timeout = "0m" }, nil, "spec.validation.timeout", "timeout must be at least 1m"},
	{"validation timeout in seconds", func(r *rs) { r.Spec.Validation.Timeout = "90s" }, nil, "spec.validation.timeout", "whole number followed by d, h or m"},
	{"validation onFailure unknown", func(r *rs) { r.Spec.Validation.OnFailure = "Retry" }, nil, "spec.validation.onFailure", "Unsupported value"},
}

// TestAdmission creates every row of refused and expects the API server to refuse it, naming the field; the base
// and the samples must be accepted, so a schema that refuses everything fails too.
func TestAdmission(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred(), "start envtest (installs the CRD, so a rule over the CEL cost budget fails here); "+
		"KUBEBUILDER_ASSETS must name the kube-apiserver and etcd that `make envtest-assets` builds")
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	g.Expect(rotationv1alpha1.AddToScheme(scheme)).To(Succeed())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	for _, ns := range []string{namespace, "backend", "backend-staging"} {
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}

	t.Run("base is accepted", func(t *testing.T) {
		g := NewWithT(t)
		for name, edit := range map[string]func(*rs){
			"base-random": func(*rs) {},
			"base-http":   func(r *rs) { useHTTP(r, func(*hp) {}) },
			"base-stripe-webhook": func(r *rs) {
				useStripeWebhook(r, func(*sw) {})
				addGitHub(r, nil)
			},
			"base-stripe-key": func(r *rs) { useStripeKey(r, func(*sk) {}) },
		} {
			obj := base(name)
			edit(obj)
			g.Expect(c.Create(ctx, obj)).To(Succeed(), name)
		}
	})

	t.Run("samples are accepted", func(t *testing.T) {
		g := NewWithT(t)
		files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "rotation_*.yaml"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(files).NotTo(BeEmpty())
		// The staging twins have the names of their production RotatedSecrets, in namespace backend-staging.
		staging, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "staging", "rotation_*.yaml"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(staging).NotTo(BeEmpty())
		for _, f := range append(files, staging...) {
			data, err := os.ReadFile(f)
			g.Expect(err).NotTo(HaveOccurred())
			obj := &unstructured.Unstructured{}
			g.Expect(yaml.Unmarshal(data, &obj.Object)).To(Succeed(), f)
			g.Expect(c.Create(ctx, obj)).To(Succeed(), f)
		}
	})

	var report []string
	for i, row := range refused {
		t.Run(row.name, func(t *testing.T) {
			g := NewWithT(t)
			typed := base("refused-" + strconv.Itoa(i))
			if row.edit != nil {
				row.edit(typed)
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
			g.Expect(err).NotTo(HaveOccurred())
			if row.raw != nil {
				row.raw(m)
			}
			obj := &unstructured.Unstructured{Object: m}
			obj.SetGroupVersionKind(rotationv1alpha1.GroupVersion.WithKind("RotatedSecret"))
			err = c.Create(ctx, obj)
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			g.Expect(err.Error()).To(ContainSubstring(row.field+": "), "the message must name the field")
			g.Expect(err.Error()).To(ContainSubstring(row.says))
			report = append(report, row.name+": "+strings.TrimPrefix(err.Error(), `RotatedSecret.rotation.tribi.io "`+obj.GetName()+`" is invalid: `))
		})
	}
	t.Logf("%d malformed specs refused at apply:\n%s", len(report), strings.Join(report, "\n"))
}
