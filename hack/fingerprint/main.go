// Command fingerprint prints the keyed fingerprint of keys of a Secret, computed by internal/fingerprint with the
// operator's key, and never a value. hack/demo.sh uses it to show which revision a target Secret holds:
//
//	{ kubectl get secret secret-rotator-fingerprint-key -n secret-rotator-system -o json
//	  kubectl get secret backend-env -n backend -o json; } | bin/fingerprint JWT_SECRET COOKIE_SECRET
//
// stdin holds the operator's fingerprint-key Secret, then the target Secret, each as `kubectl get secret -o json`
// prints it. For each KEY it prints "KEY hmac-sha256:<12 hex digits>", or "KEY -" when the target has no such key.
// A key's fingerprint is that of a provider result whose single output "value" is the key's value: it equals
// status.currentFingerprint when the target holds the current revision of a one-output provider such as random.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/provider"
)

const usage = "usage: fingerprint KEY... (stdin: the fingerprint-key Secret, then the target Secret, as JSON)"

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "fingerprint: %v\n", err)
		os.Exit(1)
	}
}

// run reads both Secrets from in and writes one line per key to out. Nothing is written unless both Secrets are
// read, so a caller never gets half an answer.
func run(keys []string, in io.Reader, out io.Writer) error {
	if len(keys) == 0 {
		return errors.New(usage)
	}
	dec := json.NewDecoder(in)
	keySecret, err := readSecret(dec, "the fingerprint-key Secret")
	if err != nil {
		return err
	}
	// Secrets in the wrong order would give fingerprints under the wrong key, which match nothing and look valid.
	if keySecret.Name != fingerprint.KeySecretName {
		return fmt.Errorf("the first Secret on stdin is %s/%s, not the operator's %s",
			keySecret.Namespace, keySecret.Name, fingerprint.KeySecretName)
	}
	key, err := fingerprint.KeyFrom(keySecret)
	if err != nil {
		return err
	}
	target, err := readSecret(dec, "the target Secret")
	if err != nil {
		return err
	}
	if dec.More() {
		return errors.New("stdin holds more than two JSON documents; " + usage)
	}

	keyer := fingerprint.New(key)
	w := bufio.NewWriter(out)
	for _, k := range keys {
		value, ok := target.Data[k]
		if !ok {
			fmt.Fprintf(w, "%s -\n", k)
			continue
		}
		fmt.Fprintf(w, "%s %s\n", k, keyer.Of(provider.Values{provider.DefaultOutput: value}))
	}
	return w.Flush()
}

// readSecret decodes the next JSON document of dec as a Secret.
func readSecret(dec *json.Decoder, what string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reading %s from stdin: %w", what, withoutInput(err))
	}
	if s.Kind != "Secret" {
		return nil, fmt.Errorf("reading %s from stdin: kind %q, not Secret", what, s.Kind)
	}
	return &s, nil
}

// withoutInput returns a decoding error without the input it quotes: a syntax error names the offending character,
// a type error may quote a number and a timestamp that does not parse is quoted whole, any of which could be part
// of a secret value. The other errors (a truncated document, bad base64, a failed read) carry offsets only.
func withoutInput(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var timestamp *time.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("no JSON document left")
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q has the wrong type (at byte %d)", typ.Field, typ.Offset)
	case errors.As(err, &timestamp):
		return errors.New("a timestamp is not in RFC 3339 form")
	default:
		return err
	}
}
