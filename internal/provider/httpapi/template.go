package httpapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Caps on a rendered template. The spec's own texts are bounded by the CRD (URL 2048, body 4096, auth value 256
// characters); these leave room for the substituted values and refuse anything larger before it is sent.
const (
	MaxURLBytes         = 4 << 10
	MaxBodyBytes        = 8 << 10
	MaxHeaderValueBytes = 4 << 10
)

// Placeholder names. Templates are plain text with placeholders, never Go templates: nothing loops, branches or
// calls a function, so rendering is one pass over the text and its size is known.
const (
	phID        = "ID"
	phRevision  = "Revision"
	phName      = "Name"
	phNamespace = "Namespace"
	phSecret    = "Secret"
)

// Placeholders each kind of field may use.
var (
	requestPlaceholders = []string{phRevision, phName, phNamespace}
	revokePlaceholders  = []string{phID, phRevision, phName, phNamespace}
	authPlaceholders    = []string{phSecret}
)

// placeholder matches one placeholder at the start of the text: `{{`, optional whitespace, `.Field`, optional
// whitespace, `}}`, as Go templates spell a field.
var placeholder = regexp.MustCompile(`^\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// template is a parsed spec text: literal parts and placeholders, in order.
type template struct {
	// field names the spec field in errors, e.g. spec.provider.http.generate.url.
	field string
	parts []part
}

// part is a literal text, or a placeholder when key is set.
type part struct {
	lit, key string
}

// parseTemplate splits text into literals and placeholders. Every `{{` must open one of allowed, written
// `{{ .Name }}`; anything else (a Go template action, a function, a pipeline, a trim marker, an unclosed `{{`) is a
// permanent error naming field. A lone `}}` is literal text, as JSON bodies need.
func parseTemplate(field, text string, allowed []string) (*template, error) {
	t := &template{field: field}
	for text != "" {
		i := strings.Index(text, "{{")
		if i < 0 {
			t.parts = append(t.parts, part{lit: text})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: text[:i]})
		}
		m := placeholder.FindStringSubmatch(text[i:])
		if m == nil || !slices.Contains(allowed, m[1]) {
			return nil, provider.Permanent(fmt.Errorf("%s: %s is not a placeholder it may use (only %s)",
				field, quoteSnippet(text[i:], m), placeholders(allowed)))
		}
		t.parts = append(t.parts, part{key: m[1]})
		text = text[i+len(m[0]):]
	}
	return t, nil
}

// render substitutes values (escaped with escape) into t and fails when the result is longer than limit. A value
// that is missing is a programming error reported as permanent; the parser already refused unknown names.
func (t *template) render(values map[string]string, escape func(string) string, limit int) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		s := p.lit
		if p.key != "" {
			v, ok := values[p.key]
			if !ok {
				return "", provider.Permanent(fmt.Errorf("%s: {{ .%s }} has no value here", t.field, p.key))
			}
			s = escape(v)
		}
		// Checked before writing, so the builder never holds more than limit bytes.
		if b.Len()+len(s) > limit {
			return "", provider.Permanent(fmt.Errorf("%s is longer than %d bytes once rendered", t.field, limit))
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// quoteSnippet quotes what stands where a placeholder was expected: the match when there is one, else at most 24
// bytes up to and including the first `}}`. It comes from the spec and carries no secret.
func quoteSnippet(text string, m []string) string {
	if m != nil {
		return fmt.Sprintf("%q", m[0])
	}
	if end := strings.Index(text, "}}"); end >= 0 && end+2 <= 24 {
		text = text[:end+2]
	} else if len(text) > 24 {
		return fmt.Sprintf("%q...", text[:24])
	}
	return fmt.Sprintf("%q", text)
}

// placeholders lists names as `{{ .Name }}`, comma separated.
func placeholders(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{{ ." + n + " }}"
	}
	return strings.Join(out, ", ")
}

// asIs leaves a value as it is (the auth header value; control characters are refused afterwards).
func asIs(s string) string { return s }

// escapePath percent-encodes everything but the unreserved characters of RFC 3986, which is safe in a path
// segment and in a query value alike.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// escapeJSON escapes s for the inside of a JSON string, so a value can neither end the string nor break the body.
func escapeJSON(s string) string {
	quoted, _ := json.Marshal(s) // a string always marshals
	return string(quoted[1 : len(quoted)-1])
}

// compiled is a spec parsed once per call: its templates and JSONPaths.
type compiled struct {
	authHeader                string
	authValue                 *template
	generateURL, generateBody *template
	verifyURL                 *template // nil without spec.verify
	revokeURL, revokeBody     *template // nil without spec.revoke
	outputs                   []*output
	id                        *output // nil without spec.id
}

// CheckSpec reports the first problem of spec that no vendor call is needed to find, as a provider.Permanent error
// naming the field: a template with anything but the placeholders its field may use, an auth header that is not a
// header name, no outputs, an output or id that is not a JSONPath. The reconciler may call it before any vendor
// call; Generate, Verify and Revoke call it themselves. What depends on the request (the URL rule after rendering,
// a rendered body that is not JSON, the size caps) is checked when the call is built.
//
// URL and body templates may use {{ .Revision }}, {{ .Name }} and {{ .Namespace }}; revoke's also {{ .ID }};
// auth.valueTemplate only {{ .Secret }}.
func CheckSpec(spec *rotationv1alpha1.HTTPProvider) error {
	_, err := compile(spec)
	return err
}

// compile parses every template and JSONPath of spec; see CheckSpec.
func compile(spec *rotationv1alpha1.HTTPProvider) (*compiled, error) {
	if spec == nil {
		return nil, provider.Permanent(fmt.Errorf("spec.provider.http is not set"))
	}
	c := &compiled{authHeader: spec.Auth.Header}
	if c.authHeader == "" {
		c.authHeader = DefaultAuthHeader
	}
	if !validHeaderName(c.authHeader) {
		return nil, provider.Permanent(fmt.Errorf("spec.provider.http.auth.header %q is not a valid header name", c.authHeader))
	}
	authText := spec.Auth.ValueTemplate
	if authText == "" {
		authText = DefaultAuthTemplate
	}
	type job struct {
		dst     **template
		field   string
		text    string
		allowed []string
	}
	jobs := []job{
		{&c.authValue, "spec.provider.http.auth.valueTemplate", authText, authPlaceholders},
		{&c.generateURL, "spec.provider.http.generate.url", string(spec.Generate.URL), requestPlaceholders},
		{&c.generateBody, "spec.provider.http.generate.body", spec.Generate.Body, requestPlaceholders},
	}
	if spec.Verify != nil {
		jobs = append(jobs, job{&c.verifyURL, "spec.provider.http.verify.url", string(spec.Verify.URL), requestPlaceholders})
	}
	if spec.Revoke != nil {
		jobs = append(jobs,
			job{&c.revokeURL, "spec.provider.http.revoke.url", string(spec.Revoke.URL), revokePlaceholders},
			job{&c.revokeBody, "spec.provider.http.revoke.body", spec.Revoke.Body, revokePlaceholders})
	}
	for _, j := range jobs {
		t, err := parseTemplate(j.field, j.text, j.allowed)
		if err != nil {
			return nil, err
		}
		*j.dst = t
	}
	var err error
	if c.outputs, err = compileOutputs(spec.Outputs); err != nil {
		return nil, err
	}
	if spec.ID != "" {
		if c.id, err = compilePath("spec.provider.http.id", spec.ID); err != nil {
			return nil, err
		}
	}
	return c, nil
}
