package main

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// fingerprintLine is every line run prints.
var fingerprintLine = regexp.MustCompile(`^K (-|hmac-sha256:[0-9a-f]{12})$`)

// FuzzRunStdin feeds run any stdin. Nothing panics; on an error nothing is printed; otherwise exactly one line of
// the documented form is.
func FuzzRunStdin(f *testing.F) {
	g := NewWithT(f)
	f.Add([]byte(keySecretJSON(g) + targetJSON(g)))
	f.Add([]byte(keySecretJSON(g) + `{"kind": "Secret", "data": {"K": "czNjcjN0"}}`))
	f.Add([]byte(keySecretJSON(g) + `{"kind": "Secret", "data": {"K": 271828182}}`))
	f.Add([]byte(`{"kind": "Secret", "metadata": {"name": "secret-rotator-fingerprint-key"}, "data": {"key": null}}`))
	f.Add([]byte(`[{"kind": "Secret"}]`))
	f.Fuzz(func(t *testing.T, stdin []byte) {
		if len(stdin) > 64<<10 {
			return
		}
		var out bytes.Buffer
		if err := run([]string{"K"}, bytes.NewReader(stdin), &out); err != nil {
			if out.Len() > 0 {
				t.Fatalf("printed %q and failed with %v", out.String(), err)
			}
			return
		}
		if !fingerprintLine.MatchString(strings.TrimSuffix(out.String(), "\n")) {
			t.Fatalf("printed %q", out.String())
		}
	})
}

// canarySpots are the places of the two Secrets where FuzzRunEchoesNothing puts its canary: every string a Secret
// may carry except its name, namespace and kind (which errors name on purpose), and spots that make the document
// fail to decode. C stands for the canary.
var canarySpots = []struct{ key, target string }{
	{target: `{"kind": "Secret", "data": {"K": "` + "C64" + `"}}`},
	{target: `{"kind": "Secret", "data": {"K": "C"}}`},
	{target: `{"kind": "Secret", "data": {"K": C}}`},
	{target: `{"kind": "Secret", "stringData": {"K": "C"}, "type": "C"}`},
	{target: `{"kind": "Secret", "metadata": {"creationTimestamp": "C"}}`},
	{target: `{"kind": "Secret", "metadata": {"deletionTimestamp": "2026-01-01T00:00:00ZC"}}`},
	{target: `{"kind": "Secret", "metadata": {"managedFields": [{"time": "C", "fieldsV1": {"f:data": {}}}]}}`},
	{target: `{"kind": "Secret", "metadata": {"labels": {"a": C}, "uid": "C"}}`},
	{target: `{"kind": "Secret", "metadata": {"deletionGracePeriodSeconds": "C"}}`},
	{target: `{"kind": "Secret", "metadata": {"generation": 1C}}`},
	{target: `{"kind": "Secret", "immutable": C}`},
	{target: `{"kind": "Secret", "data": {"K": "YQ=="}} "C"`},
	{target: `C`},
	{key: `{"kind": "Secret", "metadata": {"name": "secret-rotator-fingerprint-key"}, "data": {"key": "C"}}`},
	{key: `{"kind": "Secret", "metadata": {"name": "secret-rotator-fingerprint-key"}, "data": {"key": "C64"}}`},
	{key: `{"kind": "Secret", "metadata": {"name": "secret-rotator-fingerprint-key", "creationTimestamp": "C"}}`},
}

// FuzzRunEchoesNothing puts a canary (letters and digits, 8 to 64 of them) in one spot of the Secrets on stdin:
// neither the output nor the error may contain it, or its base64, unless it is there for another canary of the
// same length too (so the text does not come from the canary).
func FuzzRunEchoesNothing(f *testing.F) {
	for i := range canarySpots {
		f.Add("s3cr3tjwtvalue", uint8(i))
	}
	f.Add("2026", uint8(4))
	f.Fuzz(func(t *testing.T, seed string, spot uint8) {
		canary, other := canaries(seed)
		if canary == "" {
			return
		}
		text := func(c string) string {
			g := NewWithT(t)
			s := canarySpots[int(spot)%len(canarySpots)]
			key, target := s.key, s.target
			if key == "" {
				key = keySecretJSON(g)
			}
			if target == "" {
				target = targetJSON(g)
			}
			fill := strings.NewReplacer("C64", base64.StdEncoding.EncodeToString([]byte(c)), "C", c)
			var out bytes.Buffer
			err := run([]string{"K"}, strings.NewReader(fill.Replace(key)+fill.Replace(target)), &out)
			if err != nil {
				return out.String() + err.Error()
			}
			return out.String()
		}
		got, baseline := text(canary), text(other)
		for _, form := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary))} {
			if strings.Contains(got, form) && !strings.Contains(baseline, form) {
				t.Fatalf("spot %d: %q echoes the canary %q", int(spot)%len(canarySpots), got, canary)
			}
		}
	})
}

// canaries maps seed onto letters and digits, and returns it with another text of the same length (each
// character shifted), or "" when it is shorter than 8 or longer than 64 characters.
func canaries(seed string) (canary, other string) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	if len(seed) < 8 || len(seed) > 64 {
		return "", ""
	}
	a, b := make([]byte, len(seed)), make([]byte, len(seed))
	for i := range len(seed) {
		a[i] = alphabet[int(seed[i])%len(alphabet)]
		b[i] = alphabet[(int(seed[i])+1)%len(alphabet)]
	}
	return string(a), string(b)
}
