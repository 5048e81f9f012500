package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/provider"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	// jwtValue is the secret value that must never appear in anything the command prints.
	jwtValue = []byte("s3cr3t-jwt-value")
)

// secretJSON renders a Secret as `kubectl get secret -o json` does: indented, with kind and data in base64.
func secretJSON(g Gomega, namespace, name string, data map[string][]byte) string {
	b, err := json.MarshalIndent(corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}, "", "    ")
	g.Expect(err).NotTo(HaveOccurred())
	return string(b) + "\n"
}

func keySecretJSON(g Gomega) string {
	return secretJSON(g, "secret-rotator-system", fingerprint.KeySecretName, map[string][]byte{"key": testKey})
}

func targetJSON(g Gomega) string {
	return secretJSON(g, "backend", "backend-env", map[string][]byte{"JWT_SECRET": jwtValue, "EMPTY": {}})
}

// expectNoValue fails if text holds the secret value in any form kubectl or a careless print would give it.
func expectNoValue(g Gomega, text string) {
	for _, form := range []string{
		string(jwtValue), base64.StdEncoding.EncodeToString(jwtValue), hex.EncodeToString(jwtValue),
	} {
		g.Expect(text).NotTo(ContainSubstring(form))
	}
}

func TestRunPrintsTheOperatorsFingerprint(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	err := run([]string{"JWT_SECRET", "MISSING", "EMPTY"}, strings.NewReader(keySecretJSON(g)+targetJSON(g)), &out)
	g.Expect(err).NotTo(HaveOccurred())

	keyer := fingerprint.New(testKey)
	want := keyer.Of(provider.Values{provider.DefaultOutput: jwtValue})
	g.Expect(out.String()).To(Equal("JWT_SECRET " + want + "\n" +
		"MISSING -\n" +
		"EMPTY " + keyer.Of(provider.Values{provider.DefaultOutput: {}}) + "\n"))
	g.Expect(want).To(MatchRegexp(`^hmac-sha256:[0-9a-f]{12}$`))
	expectNoValue(g, out.String())
}

func TestRunRefusesBadInputWithoutPrintingAValue(t *testing.T) {
	g := NewWithT(t)
	keys := []string{"JWT_SECRET"}
	for name, tc := range map[string]struct {
		keys  []string
		stdin string
		err   string
	}{
		"no keys": {stdin: keySecretJSON(g) + targetJSON(g), err: "usage: fingerprint KEY..."},
		"Secrets in the wrong order": {keys: keys, stdin: targetJSON(g) + keySecretJSON(g),
			err: "the first Secret on stdin is backend/backend-env, not the operator's secret-rotator-fingerprint-key"},
		"key too short": {keys: keys, stdin: secretJSON(g, "ops", fingerprint.KeySecretName,
			map[string][]byte{"key": []byte("short")}) + targetJSON(g), err: `has no usable "key" key`},
		"no target":         {keys: keys, stdin: keySecretJSON(g), err: "reading the target Secret from stdin: no JSON document left"},
		"truncated target":  {keys: keys, stdin: keySecretJSON(g) + targetJSON(g)[:120], err: "unexpected EOF"},
		"three documents":   {keys: keys, stdin: keySecretJSON(g) + targetJSON(g) + targetJSON(g), err: "more than two JSON documents"},
		"not a Secret":      {keys: keys, stdin: keySecretJSON(g) + `{"kind": "List", "items": []}`, err: `kind "List", not Secret`},
		"value not base64":  {keys: keys, stdin: keySecretJSON(g) + `{"kind": "Secret", "data": {"JWT_SECRET": "` + string(jwtValue) + `"}}`, err: "illegal base64 data"},
		"value not JSON":    {keys: keys, stdin: keySecretJSON(g) + `{"kind": "Secret", "data": {"JWT_SECRET": ` + string(jwtValue) + `}}`, err: "invalid JSON at byte"},
		"value of a number": {keys: keys, stdin: keySecretJSON(g) + `{"kind": "Secret", "data": {"JWT_SECRET": 271828182}}`, err: "has the wrong type"},
		"value as a timestamp": {keys: keys, stdin: keySecretJSON(g) + `{"kind": "Secret", "metadata": {"creationTimestamp": "` + string(jwtValue) + `"}}`,
			err: "reading the target Secret from stdin: a timestamp is not in RFC 3339 form"},
	} {
		var out bytes.Buffer
		err := run(tc.keys, strings.NewReader(tc.stdin), &out)
		g.Expect(err).To(MatchError(ContainSubstring(tc.err)), name)
		g.Expect(out.String()).To(BeEmpty(), name)
		expectNoValue(g, err.Error())
		g.Expect(err.Error()).NotTo(ContainSubstring("271828182"), name)
		g.Expect(err.Error()).NotTo(ContainSubstring("'s'"), name+": the offending character of a value")
	}
}
