package httpapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// maxFuzzInput bounds what a fuzz target feeds the code, a little over the CRD's own limits (URL 2048, body 4096
// characters), so a slow input is a finding and not just a large one.
const maxFuzzInput = 16 << 10

// allNames are every placeholder name, in the order of the bits of FuzzTemplate's mask.
var allNames = []string{phID, phRevision, phName, phNamespace, phSecret}

// FuzzTemplate parses any text against any set of allowed placeholders and renders what was accepted with any
// value, escape and limit. Nothing panics; an accepted template holds literals without "{{" and only the allowed
// placeholders, so rendering with values for those alone never misses one; a text without "{{" is accepted as it
// is; a rendered text is never longer than its limit.
func FuzzTemplate(f *testing.F) {
	f.Add(`{"label": "{{ .Namespace }}/{{ .Name }}", "revision": {{ .Revision }}}`, uint8(0b01110), `a"b\c`, uint16(8<<10), uint8(1))
	f.Add("https://api.example/v1/keys/{{.ID}}?r={{ .Revision }}", uint8(0b01111), "../x?y#z", uint16(4<<10), uint8(0))
	f.Add("Bearer {{ .Secret }}", uint8(0b10000), "tok\r\nX-Evil: 1", uint16(4<<10), uint8(2))
	f.Add("{{ range .Labels }}{{ . }}{{ end }}", uint8(0b11111), "", uint16(100), uint8(0))
	f.Add("{{{{ .Name }}}}{{ .Name", uint8(0b00100), "{{ .Secret }}", uint16(3), uint8(1))
	f.Add(`}} {{- .Name -}} {{/* c */}}`, uint8(0b11111), "x", uint16(0), uint8(2))
	f.Add("{{ .Name }}{{ .Name }}{{ .Name }}{{ .Name }}", uint8(0b00100), strings.Repeat("é", 600), uint16(8<<10), uint8(0))
	f.Fuzz(func(t *testing.T, text string, mask uint8, value string, limit uint16, escape uint8) {
		if len(text) > maxFuzzInput || len(value) > maxFuzzInput {
			return
		}
		var allowed []string
		for i, n := range allNames {
			if mask&(1<<i) != 0 {
				allowed = append(allowed, n)
			}
		}
		tpl, err := parseTemplate("spec.provider.http.generate.body", text, allowed)
		if err != nil {
			if !strings.Contains(text, "{{") {
				t.Fatalf("a text without {{ was refused: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "spec.provider.http.generate.body: ") {
				t.Fatalf("the refusal does not name the field: %q", err)
			}
			return
		}
		values := map[string]string{}
		for _, p := range tpl.parts {
			if p.key == "" {
				if strings.Contains(p.lit, "{{") {
					t.Fatalf("literal %q holds {{", p.lit)
				}
				continue
			}
			if !slices.Contains(allowed, p.key) {
				t.Fatalf("placeholder %q accepted, allowed are %v", p.key, allowed)
			}
		}
		for _, n := range allowed {
			values[n] = value
		}
		if len(tpl.parts) == 1 && tpl.parts[0].key == "" && tpl.parts[0].lit != text {
			t.Fatalf("a text without placeholders changed: %q", tpl.parts[0].lit)
		}
		esc := []func(string) string{asIs, escapePath, escapeJSON}[int(escape)%3]
		out, err := tpl.render(values, esc, int(limit))
		if err != nil {
			if strings.Contains(err.Error(), "has no value here") {
				t.Fatalf("an accepted template uses a placeholder it may not: %v", err)
			}
			return
		}
		if len(out) > int(limit) {
			t.Fatalf("rendered %d bytes, limit %d", len(out), limit)
		}
	})
}

// FuzzCheckSpec checks a spec whose texts are all fuzzed: CheckSpec never panics, and a spec it accepts renders
// (URL, body and auth header) within the caps or fails with an error, never a panic.
func FuzzCheckSpec(f *testing.F) {
	s := specAt("https://api.connectedyou.example")
	f.Add(s.Auth.Header, s.Auth.ValueTemplate, string(s.Generate.URL), s.Generate.Body, s.Outputs["value"], s.ID, string(s.Revoke.URL), "jwt")
	f.Add("X-Api-Key", "{{ .Secret }}", "https://h/{{ .Name }}", "", ".api_key", "{.data[0].id}", "https://h/{{ .ID }}", "a/b")
	f.Add("Bad Header", "", "", "{{ .ID }}", "{.a", "{[", "", "")
	f.Add("", "", "https://h", "{}", "{range .items[*]}{.k}{end}", "{.items[?(@.a==1)].id}", "https://h", "n")
	f.Fuzz(func(t *testing.T, header, auth, url, body, output, id, revoke, name string) {
		if len(header)+len(auth)+len(url)+len(body)+len(output)+len(id)+len(revoke)+len(name) > maxFuzzInput {
			return
		}
		spec := &rotationv1alpha1.HTTPProvider{
			Auth:     rotationv1alpha1.HTTPAuth{Header: header, ValueTemplate: auth},
			Generate: rotationv1alpha1.HTTPRequest{URL: rotationv1alpha1.HTTPURL(url), Body: body},
			Outputs:  map[string]string{"value": output},
			ID:       id,
			Revoke:   &rotationv1alpha1.HTTPRequest{URL: rotationv1alpha1.HTTPURL(revoke)},
		}
		c, err := compile(spec)
		if (err == nil) != (CheckSpec(spec) == nil) {
			t.Fatalf("CheckSpec and compile disagree: %v", err)
		}
		if err != nil {
			return
		}
		values := map[string]string{phRevision: "7", phName: name, phNamespace: name, phID: name}
		if u, err := c.generateURL.render(values, escapePath, MaxURLBytes); err == nil && len(u) > MaxURLBytes {
			t.Fatalf("URL of %d bytes", len(u))
		}
		if b, err := c.generateBody.render(values, escapeJSON, MaxBodyBytes); err == nil && len(b) > MaxBodyBytes {
			t.Fatalf("body of %d bytes", len(b))
		}
		if u, err := c.revokeURL.render(values, escapePath, MaxURLBytes); err == nil && len(u) > MaxURLBytes {
			t.Fatalf("revoke URL of %d bytes", len(u))
		}
		if v, err := c.authHeaderValue([]byte(name)); err == nil && len(v) > MaxHeaderValueBytes {
			t.Fatalf("auth header value of %d bytes", len(v))
		}
	})
}

// FuzzResponse reads any response body with any output and id JSONPath. Nothing panics or loops; on success every
// output and the id are non-empty and the state is {"id": ...}; on failure the error is one of the texts the spec
// and the status alone determine, so it never carries a byte of the body (which may hold the new credential).
func FuzzResponse(f *testing.F) {
	f.Add(`{"api_key": "ck_live_51Hx", "partner_id": 4711, "id": "key_1"}`, "{.api_key}", "{.id}", uint8(0))
	f.Add(`{"data": [{"id": "a", "secret": "s1"}, {"id": "b", "secret": null}]}`, "{.data[*].secret}", "{.data[0].id}", uint8(1))
	f.Add(`{"a": {"b": {"c": [1, 2.50, 1e+06, true, {"x": "y"}]}}}`, "{..c}", "{.a.b.c[-1:]}", uint8(2))
	f.Add(`{"items": [{"k": "v1"}, {"k": "v2"}]}`, "{range .items[*]}{.k}{\"\\n\"}{end}", "{.items[?(@.k==\"v2\")].k}", uint8(3))
	f.Add(`not JSON: the key is ck_live_51Hx`, ".api_key", "", uint8(0))
	f.Add(`{"api_key": ""}`, "{.api_key}", "{.missing}", uint8(4))
	f.Add(`[1,2,3]`, "{[1:2:0]}", "{[-5]}", uint8(0))
	f.Add(`null`, "{[0]}", "{range}{end}", uint8(0))
	f.Add(`{"keys": null, "k": [null, [1]]}`, "{range .keys[*]}{[0]}{end}", "{.k[*][0]}", uint8(5))
	f.Fuzz(func(t *testing.T, body, expr, idExpr string, status uint8) {
		if len(body)+len(expr)+len(idExpr) > maxFuzzInput {
			return
		}
		outputs, err := compileOutputs(map[string]string{"value": expr})
		if err != nil {
			return
		}
		var id *output
		if idExpr != "" {
			if id, err = compilePath("spec.provider.http.id", idExpr); err != nil {
				return
			}
		}
		code := 200 + int(status)%100
		p := New(Options{})
		res, err := p.result(response{status: code, body: []byte(body)}, outputs, id)
		if err == nil {
			if len(res.Values["value"]) == 0 {
				t.Fatalf("success with an empty output")
			}
			var st state
			if id != nil && (json.Unmarshal(res.State, &st) != nil || st.ID == "") {
				t.Fatalf("success with state %q", res.State)
			}
			return
		}
		allowed := []string{
			fmt.Sprintf("generate: the vendor's %d response is not JSON; a credential may have been issued", code),
			fmt.Sprintf("generate: %s (%s) is missing or empty in the vendor's %d response; a credential may have been issued",
				outputs[0].field, expr, code),
		}
		if id != nil {
			allowed = append(allowed, fmt.Sprintf(
				"generate: the id (%s) is missing or empty in the vendor's %d response; a credential may have been issued", idExpr, code))
		}
		if !slices.Contains(allowed, err.Error()) {
			t.Fatalf("error %q is not one of %q", err, allowed)
		}
	})
}

// vendorCodeText is what vendorCode may return besides "": one allow-listed code, quoted.
var vendorCodeText = regexp.MustCompile(`^ \(vendor code "([a-z_]+)"\)$`)

// FuzzVendorCode turns any error body into an error for each kind of call: nothing panics; the error quotes at most
// one allow-listed vendor code, and apart from it is the same as for an empty body.
func FuzzVendorCode(f *testing.F) {
	f.Add(`{"error": "invalid_token"}`, uint16(401))
	f.Add(`{"error": {"code": "Rate-Limited", "message": "slow down, key ck_live_51Hx"}}`, uint16(429))
	f.Add(`{"code": "  NOT.FOUND  "}`, uint16(404))
	f.Add(`{"error": "ck_live_51Hx is not a valid key"}`, uint16(400))
	f.Add(`{"error": 42, "code": "conflict"}`, uint16(409))
	f.Add(`{"error": "permission\u2010denied"}`, uint16(503))
	f.Add(`not JSON`, uint16(500))
	f.Fuzz(func(t *testing.T, body string, status uint16) {
		if len(body) > maxFuzzInput {
			return
		}
		resp := response{status: int(status), body: []byte(body)}
		vc := vendorCode(resp)
		if vc != "" {
			m := vendorCodeText.FindStringSubmatch(vc)
			if m == nil || !vendorCodes[m[1]] {
				t.Fatalf("vendor code text %q is not an allow-listed code", vc)
			}
		}
		for _, repeatable := range []bool{false, true} {
			got := statusError("revoke", resp, adminRef, repeatable).Error()
			bare := statusError("revoke", response{status: resp.status}, adminRef, repeatable).Error()
			if strings.Replace(got, vc, "", 1) != bare {
				t.Fatalf("error %q differs from the one for an empty body %q by more than the vendor code %q", got, bare, vc)
			}
		}
	})
}
