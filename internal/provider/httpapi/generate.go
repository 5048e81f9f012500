package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/tribi/secret-rotator/internal/provider"
)

// state is what Generate stores in Result.State: {"id": "..."}, the vendor's id of the credential.
type state struct {
	ID string `json:"id"`
}

// Generate issues a credential: one call to spec.generate with the operator's credential, after the create-pending
// guard is recorded. The outputs are read from the JSON response with spec.outputs; the id (spec.id) goes into
// Result.State as {"id": "..."}. Everything that can fail on configuration (the whole spec, revoke's templates
// included, through CheckSpec) is checked before the guard, so a bad spec never leaves a pending marker behind.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Result, error) {
	spec, c, err := httpSpec(req)
	if err != nil {
		return provider.Result{}, err
	}
	values := requestValues(req)
	rawURL, err := c.generateURL.render(values, escapePath, MaxURLBytes)
	if err != nil {
		return provider.Result{}, err
	}
	body, err := c.generateBody.render(values, escapeJSON, MaxBodyBytes)
	if err != nil {
		return provider.Result{}, err
	}
	if req.Credentials == nil {
		return provider.Result{}, provider.Permanent(errors.New("no credentials reader in the request"))
	}
	secret, err := req.Credentials.Credential(ctx, spec.Auth.SecretRef)
	if err != nil {
		return provider.Result{}, err
	}
	if len(bytes.TrimSpace(secret)) == 0 {
		return provider.Result{}, &provider.CredentialError{Ref: spec.Auth.SecretRef, Err: errors.New("the key is empty")}
	}
	value, err := c.authHeaderValue(secret)
	if err != nil {
		return provider.Result{}, err
	}
	method := spec.Generate.Method
	if method == "" {
		method = DefaultGenerateMethod
	}
	r, err := p.newRequest(ctx, "spec.provider.http.generate.url", method, rawURL, body, c.authHeader, value)
	if err != nil {
		return provider.Result{}, err
	}
	// The call mints a key: without a guard a crash could mint a second one for the same revision.
	if req.Guard == nil {
		return provider.Result{}, provider.Permanent(errors.New("no create-pending guard in the request; not calling the vendor"))
	}
	if err := req.Guard.Begin(ctx); err != nil {
		return provider.Result{}, fmt.Errorf("recording the create-pending marker: %w", err)
	}
	resp, err := p.do(r)
	switch {
	case err == nil:
	case provider.Ambiguous(err):
		// A timeout: the vendor may have minted. The context or net timeout error is kept as it is, so the
		// reconciler keeps the marker.
		return provider.Result{}, fmt.Errorf("generate: %w", err)
	case success(resp.status):
		return provider.Result{}, provider.Incomplete(fmt.Errorf(
			"generate: the vendor answered %d but its response could not be read; a credential may have been issued: %w", resp.status, err))
	case resp.sent:
		return provider.Result{}, provider.Incomplete(fmt.Errorf(
			"generate: the connection failed after the request was sent; a credential may have been issued: %w", err))
	default:
		// Refused or lost before the request was out: nothing can have been minted.
		return provider.Result{}, fmt.Errorf("generate: %w", err)
	}
	if !success(resp.status) {
		return provider.Result{}, statusError("generate", resp, spec.Auth.SecretRef, false)
	}
	return p.result(resp, c.outputs, c.id)
}

// success reports whether status is 2xx.
func success(status int) bool { return status >= 200 && status <= 299 }

// result reads the outputs and the id from a successful generate response. Every failure is an IncompleteError:
// the vendor said it issued a credential, which nobody recorded, and the guard keeps the revision from being
// generated again. No error quotes the response.
func (p *Provider) result(resp response, outputs []*output, id *output) (provider.Result, error) {
	if resp.tooLarge {
		return provider.Result{}, provider.Incomplete(fmt.Errorf(
			"generate: the vendor's %d response is larger than %d bytes; a credential may have been issued", resp.status, p.maxBytes))
	}
	dec := json.NewDecoder(bytes.NewReader(resp.body))
	dec.UseNumber() // numbers keep the vendor's spelling: 4711, not 4711.0 or 1e+06
	var doc any
	if err := dec.Decode(&doc); err != nil {
		// The decoder's error can quote a character of the body: it is dropped.
		return provider.Result{}, provider.Incomplete(fmt.Errorf(
			"generate: the vendor's %d response is not JSON; a credential may have been issued", resp.status))
	}
	res := provider.Result{Values: provider.Values{}}
	for _, o := range outputs {
		v, ok := o.extract(doc)
		if !ok {
			return provider.Result{}, provider.Incomplete(fmt.Errorf(
				"generate: %s (%s) is missing or empty in the vendor's %d response; a credential may have been issued",
				o.field, o.expr, resp.status))
		}
		res.Values[o.name] = []byte(v)
	}
	if id != nil {
		v, ok := id.extract(doc)
		if !ok {
			return provider.Result{}, provider.Incomplete(fmt.Errorf(
				"generate: the id (%s) is missing or empty in the vendor's %d response; a credential may have been issued",
				id.expr, resp.status))
		}
		st, err := json.Marshal(state{ID: v})
		if err != nil {
			return provider.Result{}, provider.Incomplete(fmt.Errorf("generate: encoding the id: %w", err))
		}
		res.State = st
	}
	return res, nil
}

// output is one compiled JSONPath into the generate response.
type output struct {
	// name of the output ("value"); empty for the id.
	name string
	// field names the spec field in errors, e.g. spec.provider.http.outputs["value"].
	field string
	// expr is the expression as written in the spec.
	expr string
	jp   *jsonpath.JSONPath
}

// compileOutputs parses every spec.outputs expression, in the order of the output names.
func compileOutputs(exprs map[string]string) ([]*output, error) {
	if len(exprs) == 0 {
		return nil, provider.Permanent(errors.New("spec.provider.http.outputs is empty"))
	}
	out := make([]*output, 0, len(exprs))
	for name, expr := range exprs {
		o, err := compilePath(fmt.Sprintf("spec.provider.http.outputs[%q]", name), expr)
		if err != nil {
			return nil, err
		}
		o.name = name
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// compilePath parses a JSONPath template such as "{.api_key}". Like kubectl, it accepts a bare ".api_key" too:
// without braces the parser would take the expression for literal text and "extract" the expression itself.
func compilePath(field, expr string) (*output, error) {
	text := strings.TrimSpace(expr)
	if !strings.Contains(text, "{") {
		text = "{" + text + "}"
	}
	jp := jsonpath.New(field).AllowMissingKeys(false)
	if err := jp.Parse(text); err != nil {
		return nil, provider.Permanent(fmt.Errorf("%s: %q is not a valid JSONPath: %w", field, expr, err))
	}
	return &output{field: field, expr: expr, jp: jp}, nil
}

// extract evaluates jp on doc and prints what it found as kubectl would (strings as they are, numbers as the
// vendor wrote them, objects as JSON). It reports false when nothing or only nulls matched, or the text is empty.
// The evaluation error is dropped: some quote the data they failed on, which is the secret. client-go's jsonpath
// panics when it indexes or ranges over a null (`{[0]}` on a `null` response, `{range .a[*]}{[0]}{end}` on
// {"a": null}); that is a response without the output too, and the panic value is dropped with it.
func (o *output) extract(doc any) (text string, found bool) {
	defer func() {
		if recover() != nil {
			text, found = "", false
		}
	}()
	jp := o.jp
	groups, err := jp.FindResults(doc)
	if err != nil {
		return "", false
	}
	var b bytes.Buffer
	for _, group := range groups {
		values := make([]reflect.Value, 0, len(group))
		for _, v := range group {
			if !isNull(v) {
				values = append(values, v)
			}
		}
		if err := jp.PrintResults(&b, values); err != nil {
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// isNull reports whether v is JSON null.
func isNull(v reflect.Value) bool {
	for v.IsValid() && v.Kind() == reflect.Interface {
		if v.IsNil() {
			return true
		}
		v = v.Elem()
	}
	return !v.IsValid()
}
