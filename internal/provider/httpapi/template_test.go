package httpapi

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

func TestCheckSpecAcceptsTheSamples(t *testing.T) {
	g := NewWithT(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "config", "samples", "rotation_*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		g.Expect(err).NotTo(HaveOccurred())
		var rs rotationv1alpha1.RotatedSecret
		g.Expect(yaml.UnmarshalStrict(b, &rs)).To(Succeed(), f)
		if rs.Spec.Provider.HTTP == nil {
			continue
		}
		g.Expect(CheckSpec(rs.Spec.Provider.HTTP)).To(Succeed(), f)
		checked++
	}
	g.Expect(checked).To(Equal(3), "the ConnectedYou key, the ConnectedYou partner id and the eSIM provider token")
	g.Expect(CheckSpec(specAt("https://api.connectedyou.example"))).To(Succeed())
}

func TestCheckSpecRefusesAnythingButPlaceholders(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*rotationv1alpha1.HTTPProvider)
		field  string
	}{
		{"range", func(s *rotationv1alpha1.HTTPProvider) {
			s.Generate.Body = `{"labels": [{{ range .Labels }}"{{ . }}",{{ end }}]}`
		}, "spec.provider.http.generate.body"},
		{"if", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.URL += "{{ if .Name }}/x{{ end }}" }, "spec.provider.http.generate.url"},
		{"function", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.Body = `{"n": "{{ printf "%0999999d" 1 }}"}` },
			"spec.provider.http.generate.body"},
		{"pipeline", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.URL += "/{{ .Name | urlquery }}" }, "spec.provider.http.generate.url"},
		{"unknown field", func(s *rotationv1alpha1.HTTPProvider) { s.Verify.URL += "?t={{ .Token }}" }, "spec.provider.http.verify.url"},
		{"ID outside revoke", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.Body = `{"id": "{{ .ID }}"}` }, "spec.provider.http.generate.body"},
		{"Secret in a URL", func(s *rotationv1alpha1.HTTPProvider) { s.Revoke.URL += "?k={{ .Secret }}" }, "spec.provider.http.revoke.url"},
		{"Name in auth", func(s *rotationv1alpha1.HTTPProvider) { s.Auth.ValueTemplate = "{{ .Name }} {{ .Secret }}" },
			"spec.provider.http.auth.valueTemplate"},
		{"trim marker", func(s *rotationv1alpha1.HTTPProvider) { s.Revoke.URL += "/{{- .ID -}}" }, "spec.provider.http.revoke.url"},
		{"comment", func(s *rotationv1alpha1.HTTPProvider) { s.Revoke.Body = `{{/* x */}}{}` }, "spec.provider.http.revoke.body"},
		{"unclosed", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.URL += "/{{ .Revision" }, "spec.provider.http.generate.url"},
		{"variable", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.Body = `{{ $x := .Name }}{}` }, "spec.provider.http.generate.body"},
		{"nested field", func(s *rotationv1alpha1.HTTPProvider) { s.Generate.URL += "/{{ .Name.X }}" }, "spec.provider.http.generate.url"},
		{"bad header", func(s *rotationv1alpha1.HTTPProvider) { s.Auth.Header = "X Api Key" }, "spec.provider.http.auth.header"},
		{"bad output", func(s *rotationv1alpha1.HTTPProvider) { s.Outputs["value"] = "{.api_key" }, `spec.provider.http.outputs["value"]`},
		{"bad id", func(s *rotationv1alpha1.HTTPProvider) { s.ID = "{.id[}" }, "spec.provider.http.id"},
		{"no outputs", func(s *rotationv1alpha1.HTTPProvider) { s.Outputs = nil }, "spec.provider.http.outputs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewWithT(t)
			spec := specAt("https://api.connectedyou.example")
			c.mutate(spec)
			err := CheckSpec(spec)
			g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
			g.Expect(err.Error()).To(HavePrefix(c.field))
		})
	}
	g := NewWithT(t)
	g.Expect(kind(CheckSpec(nil))).To(Equal("permanent"))
}

func TestPlaceholdersToleratesWhitespaceAndKeepsLiterals(t *testing.T) {
	g := NewWithT(t)
	tpl, err := parseTemplate("f", "{\"a\": {\"b\": \"{{.Name}}\"}, \"r\": {{ \t.Revision\n}}, \"c\": \"}}{\"}",
		requestPlaceholders)
	g.Expect(err).NotTo(HaveOccurred())
	out, err := tpl.render(map[string]string{phName: `x"y`, phRevision: "7"}, escapeJSON, MaxBodyBytes)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal(`{"a": {"b": "x\"y"}, "r": 7, "c": "}}{"}`))
}

func TestRenderedSizeIsCapped(t *testing.T) {
	t.Run("URL", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixed(t, http.StatusNoContent, "")
		spec := specAt(f.srv.URL)
		// Every byte of the id is percent-encoded to three: 1400 bytes become 4200, more than MaxURLBytes.
		old := provider.Result{State: []byte(`{"id": "` + strings.Repeat("/", 1400) + `"}`)}
		err := New(Options{Egress: local}).Revoke(context.Background(), request(spec, 1, nil), old)
		g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
		g.Expect(err).To(MatchError(ContainSubstring("spec.provider.http.revoke.url is longer than 4096 bytes")))
		g.Expect(f.received()).To(BeEmpty())
	})
	t.Run("body", func(t *testing.T) {
		g := NewWithT(t)
		v := newVendor(t)
		spec := v.spec()
		spec.Generate.Body = `{"a": "` + strings.Repeat("{{ .Namespace }}", 200) + `"}` // 200 × 63 bytes
		req := request(spec, 1, &guard{})
		req.Namespace = strings.Repeat("n", 63)
		gd := &guard{}
		req.Guard = gd
		_, err := New(Options{Egress: local}).Generate(context.Background(), req)
		g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
		g.Expect(err).To(MatchError(ContainSubstring("spec.provider.http.generate.body is longer than 8192 bytes")))
		g.Expect(gd.calls).To(BeZero())
		g.Expect(v.seen()).To(BeEmpty())
	})
	t.Run("header value", func(t *testing.T) {
		g := NewWithT(t)
		v := newVendor(t)
		huge := "tok_" + strings.Repeat("s", MaxHeaderValueBytes)
		req := request(v.spec(), 1, &guard{})
		req.Credentials = creds{adminRef: huge}
		_, err := New(Options{Egress: local}).Generate(context.Background(), req)
		g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
		g.Expect(err).To(MatchError(ContainSubstring("spec.provider.http.auth.valueTemplate is longer than")))
		expectClean(g, err, "tok_", "ssss")
		g.Expect(v.seen()).To(BeEmpty())
	})
}

func TestGenerateRefusesABadRevokeTemplateBeforeMinting(t *testing.T) {
	g := NewWithT(t)
	v := newVendor(t)
	spec := v.spec()
	spec.Revoke.URL = rotationv1alpha1.HTTPURL(v.srv.URL + "/v1/keys/{{ index .Labels 0 }}")
	gd := &guard{}
	_, err := New(Options{Egress: local}).Generate(context.Background(), request(spec, 1, gd))
	g.Expect(kind(err)).To(Equal("permanent"), "got %v", err)
	g.Expect(err.Error()).To(HavePrefix("spec.provider.http.revoke.url"))
	g.Expect(gd.calls).To(BeZero(), "a key nobody could revoke was about to be minted")
	g.Expect(v.seen()).To(BeEmpty())
}
