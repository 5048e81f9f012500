package controllers_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// validSpec is a spec the API server accepts; each case below breaks one thing.
func validSpec() map[string]any {
	return map[string]any{
		"owner":    "Backend lead",
		"ttl":      "90d",
		"provider": map[string]any{"random": map[string]any{"length": int64(32), "encoding": "hex"}},
		"targets":  []any{map[string]any{"secretName": "backend-env", "key": "JWT_SECRET"}},
		"previous": map[string]any{"keep": true, "suffix": "_PREVIOUS", "gracePeriod": "24h"},
	}
}

func rotatedSecret(ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rotation.tribi.io/v1alpha1", "kind": "RotatedSecret",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     spec,
	}}
	return u
}

var _ = Describe("Validation at kubectl apply", func() {
	var ns string
	BeforeEach(func() { ns = cluster.NewNamespace("t-") })

	It("accepts the valid spec the cases start from", func() {
		Expect(k8sClient.Create(ctx, rotatedSecret(ns, "ok", validSpec()), client.FieldValidation("Strict"))).To(Succeed())
	})

	DescribeTable("refuses a bad spec with a message that names the field",
		func(change func(spec map[string]any), field, message string) {
			spec := validSpec()
			change(spec)
			err := k8sClient.Create(ctx, rotatedSecret(ns, "bad", spec), client.FieldValidation("Strict"))
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring(field))
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("no provider", func(s map[string]any) { s["provider"] = map[string]any{} },
			"spec.provider", "exactly one provider must be set"),
		Entry("an unknown provider", func(s map[string]any) {
			s["provider"].(map[string]any)["vault"] = map[string]any{"path": "x"}
		}, "spec.provider.vault", "unknown field"),
		Entry("no targets", func(s map[string]any) { delete(s, "targets") }, "spec.targets", "Required value"),
		Entry("empty targets", func(s map[string]any) { s["targets"] = []any{} }, "spec.targets", "at least 1 item"),
		Entry("two providers", func(s map[string]any) {
			s["provider"].(map[string]any)["stripeSecretKey"] = map[string]any{
				"stagedSecretRef": map[string]any{"name": "s", "key": "k"}, "mode": "test"}
		}, "spec.provider", "exactly one provider must be set"),
		Entry("a target with neither secretName nor githubActions", func(s map[string]any) {
			s["targets"] = []any{map[string]any{"key": "K"}}
		}, "spec.targets[0]", "set exactly one of secretName (with key) or githubActions"),
		Entry("a target with secretName but no key", func(s map[string]any) {
			s["targets"] = []any{map[string]any{"secretName": "a"}}
		}, "spec.targets[0]", "key is required with secretName"),
		Entry("a target with both secretName and githubActions", func(s map[string]any) {
			s["targets"] = []any{map[string]any{"secretName": "a", "key": "K", "githubActions": map[string]any{
				"repository": "tribi/backend", "name": "K", "tokenSecretRef": map[string]any{"name": "gh", "key": "token"}}}}
		}, "spec.targets[0]", "set exactly one of secretName (with key) or githubActions"),
		Entry("a rollout stage with no workloads and no selector", func(s map[string]any) {
			s["rollout"] = map[string]any{"stages": []any{map[string]any{"name": "api"}}}
		}, "spec.rollout.stages[0]", "a stage needs workloads or a selector"),
		Entry("a workload kind the operator cannot restart", func(s map[string]any) {
			s["rollout"] = map[string]any{"stages": []any{map[string]any{"name": "api",
				"workloads": []any{map[string]any{"kind": "CronJob", "name": "x"}}}}}
		}, "spec.rollout.stages[0].workloads[0].kind", "Unsupported value"),
		Entry("an unknown onFailure", func(s map[string]any) {
			s["validation"] = map[string]any{"onFailure": "Ignore", "jobs": []any{map[string]any{"name": "smoke", "template": map[string]any{}}}}
		}, "spec.validation.onFailure", "Unsupported value"),
		Entry("a vendor URL over plain http", func(s map[string]any) {
			s["provider"] = map[string]any{"http": map[string]any{
				"auth":     map[string]any{"secretRef": map[string]any{"name": "a", "key": "t"}},
				"generate": map[string]any{"url": "http://api.vendor.example/v1/keys"},
				"outputs":  map[string]any{"value": "{.key}"}}}
		}, "spec.provider.http.generate.url", "must be an https URL"),
		Entry("a vendor revoke call without an id", func(s map[string]any) {
			s["provider"] = map[string]any{"http": map[string]any{
				"auth":     map[string]any{"secretRef": map[string]any{"name": "a", "key": "t"}},
				"generate": map[string]any{"url": "https://api.vendor.example/v1/keys"},
				"outputs":  map[string]any{"value": "{.key}"},
				"revoke":   map[string]any{"url": "https://api.vendor.example/v1/keys/{{ .ID }}"}}}
		}, "spec.provider.http", "revoke needs id"),
		Entry("a Stripe webhook with both endpointID and url", func(s map[string]any) {
			s["provider"] = map[string]any{"stripeWebhook": map[string]any{
				"apiKeySecretRef": map[string]any{"name": "a", "key": "k"}, "endpointID": "we_1", "url": "https://x.example/hook"}}
		}, "spec.provider.stripeWebhook", "set exactly one of endpointID or url"),
		Entry("a Stripe key mode that is neither test nor live", func(s map[string]any) {
			s["provider"] = map[string]any{"stripeSecretKey": map[string]any{
				"stagedSecretRef": map[string]any{"name": "a", "key": "k"}, "mode": "prod"}}
		}, "spec.provider.stripeSecretKey.mode", "Unsupported value"),
		Entry("no owner", func(s map[string]any) { delete(s, "owner") }, "spec.owner", "Required value"),
		Entry("an empty owner", func(s map[string]any) { s["owner"] = "" }, "spec.owner", "at least 1 chars long"),
		Entry("a TTL below 1h", func(s map[string]any) { s["ttl"] = "59m" }, "spec.ttl", "ttl must be at least 1h"),
		Entry("a TTL of zero days", func(s map[string]any) { s["ttl"] = "0d" }, "spec.ttl", "ttl must be at least 1h"),
		Entry("an unparseable TTL", func(s map[string]any) { s["ttl"] = "ninety days" }, "spec.ttl", "must be a whole number followed by d, h or m"),
		Entry("a TTL in seconds", func(s map[string]any) { s["ttl"] = "3600s" }, "spec.ttl", "must be a whole number followed by d, h or m"),
		Entry("an unknown encoding", func(s map[string]any) {
			s["provider"].(map[string]any)["random"].(map[string]any)["encoding"] = "base32"
		}, "spec.provider.random.encoding", `Unsupported value: "base32"`),
		Entry("a length below 16", func(s map[string]any) {
			s["provider"].(map[string]any)["random"].(map[string]any)["length"] = int64(8)
		}, "spec.provider.random.length", "greater than or equal to 16"),
		Entry("a length above 512", func(s map[string]any) {
			s["provider"].(map[string]any)["random"].(map[string]any)["length"] = int64(4096)
		}, "spec.provider.random.length", "less than or equal to 512"),
		Entry("a negative grace period", func(s map[string]any) {
			s["previous"].(map[string]any)["gracePeriod"] = "-1h"
		}, "spec.previous.gracePeriod", "must be a whole number followed by d, h or m"),
		Entry("a key Secrets do not allow", func(s map[string]any) {
			s["targets"] = []any{map[string]any{"secretName": "backend-env", "key": "JWT SECRET"}}
		}, "spec.targets[0].key", "should match"),
		Entry("a Secret name that is not a DNS name", func(s map[string]any) {
			s["targets"] = []any{map[string]any{"secretName": "Backend_Env", "key": "K"}}
		}, "spec.targets[0].secretName", "should match"),
		Entry("a previous-value key that collides with a target", func(s map[string]any) {
			s["targets"] = []any{map[string]any{"secretName": "e", "key": "JWT"}, map[string]any{"secretName": "e", "key": "JWT_PREVIOUS"}}
		}, "spec", "previous.suffix makes a previous-value key collide with a target key"),
		Entry("a history limit of zero", func(s map[string]any) { s["revisionHistoryLimit"] = int64(0) },
			"spec.revisionHistoryLimit", "greater than or equal to 1"),
	)

	It("refuses a name too long for its staging Secret", func() {
		name := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 63)
		err := k8sClient.Create(ctx, rotatedSecret(ns, name, validSpec()))
		Expect(err).To(MatchError(ContainSubstring("metadata.name must be at most 244 characters")))
	})

	It("accepts every sample in config/samples", func() {
		files, err := filepath.Glob(filepath.Join("..", "config", "samples", "rotation_*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		keys := map[string]bool{}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal(raw, &u.Object)).To(Succeed(), f)
			u.SetNamespace(ns)
			Expect(k8sClient.Create(ctx, u, client.FieldValidation("Strict"))).To(Succeed(), f)
			targets, _, _ := unstructured.NestedSlice(u.Object, "spec", "targets")
			for _, t := range targets {
				if k, ok := t.(map[string]any)["key"].(string); ok {
					keys[k] = true
				}
			}
		}
		for _, row := range []string{"JWT_SECRET", "COOKIE_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
			"CONNECTED_YOU_API_KEY", "CONNECTED_YOU_PARTNER_ID", "ESIM_PROVIDER_TOKEN"} {
			Expect(keys).To(HaveKey(row), "a sample for every row of the runbook table")
		}
	})
})
