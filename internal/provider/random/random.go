// Package random is the provider that generates values from a cryptographic random source, like
// `openssl rand -hex 32`.
package random

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Defaults match the CRD defaults, for objects that reach the provider without them.
const (
	DefaultLength   = 32
	DefaultEncoding = rotationv1alpha1.EncodingHex
)

// Provider generates random values. It has no outside state: Verify checks the shape, Revoke does nothing.
type Provider struct {
	rand io.Reader
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider reading from r (crypto/rand.Reader in production).
func New(r io.Reader) *Provider { return &Provider{rand: r} }

func params(req provider.Request) (int, rotationv1alpha1.RandomEncoding, error) {
	spec := req.Spec.Random
	if spec == nil {
		return 0, "", provider.Permanent(fmt.Errorf("spec.provider.random is not set"))
	}
	length, enc := int(spec.Length), spec.Encoding
	if length == 0 {
		length = DefaultLength
	}
	if enc == "" {
		enc = DefaultEncoding
	}
	return length, enc, nil
}

// Generate returns {"value": <length random bytes in the encoding>}.
func (p *Provider) Generate(_ context.Context, req provider.Request) (provider.Result, error) {
	length, enc, err := params(req)
	if err != nil {
		return provider.Result{}, err
	}
	var value string
	switch enc {
	case rotationv1alpha1.EncodingAlphanumeric:
		value, err = p.alphanumeric(length)
	default:
		buf := make([]byte, length)
		if _, err = io.ReadFull(p.rand, buf); err == nil {
			value, err = encode(buf, enc)
		}
	}
	if err != nil {
		return provider.Result{}, fmt.Errorf("generating random value: %w", err)
	}
	return provider.Result{Values: provider.Values{provider.DefaultOutput: []byte(value)}}, nil
}

// alphanumeric draws n characters uniformly from alphabet, rejecting bytes that would bias the draw.
func (p *Provider) alphanumeric(n int) (string, error) {
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := io.ReadFull(p.rand, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

func encode(b []byte, enc rotationv1alpha1.RandomEncoding) (string, error) {
	switch enc {
	case rotationv1alpha1.EncodingHex:
		return hex.EncodeToString(b), nil
	case rotationv1alpha1.EncodingBase64:
		return base64.StdEncoding.EncodeToString(b), nil
	case rotationv1alpha1.EncodingBase64URL:
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
	return "", provider.Permanent(fmt.Errorf("unknown encoding %q", enc))
}

// Verify checks that the candidate has the length and alphabet the spec asks for.
func (p *Provider) Verify(_ context.Context, req provider.Request, candidate provider.Result) error {
	length, enc, err := params(req)
	if err != nil {
		return err
	}
	v, ok := candidate.Values[provider.DefaultOutput]
	if !ok {
		return fmt.Errorf("candidate has no %q output", provider.DefaultOutput)
	}
	var n int
	switch enc {
	case rotationv1alpha1.EncodingHex:
		d, err := hex.DecodeString(string(v))
		if err != nil {
			return fmt.Errorf("candidate is not hex")
		}
		n = len(d)
	case rotationv1alpha1.EncodingBase64:
		d, err := base64.StdEncoding.DecodeString(string(v))
		if err != nil {
			return fmt.Errorf("candidate is not base64")
		}
		n = len(d)
	case rotationv1alpha1.EncodingBase64URL:
		d, err := base64.RawURLEncoding.DecodeString(string(v))
		if err != nil {
			return fmt.Errorf("candidate is not base64url")
		}
		n = len(d)
	case rotationv1alpha1.EncodingAlphanumeric:
		for _, c := range v {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return fmt.Errorf("candidate is not alphanumeric")
			}
		}
		n = len(v)
	}
	if n != length {
		return fmt.Errorf("candidate has length %d, want %d", n, length)
	}
	return nil
}

// Revoke does nothing: a random value is not registered anywhere.
func (p *Provider) Revoke(context.Context, provider.Request, provider.Result) error { return nil }

// Outputs implements provider.Provider: the random provider has one output.
func (p *Provider) Outputs(rotationv1alpha1.ProviderSpec) []string {
	return []string{provider.DefaultOutput}
}

// Check implements provider.Provider: the schema bounds length and encoding.
func (p *Provider) Check(rotationv1alpha1.ProviderSpec) error { return nil }

// Inputs implements provider.Provider: nothing is staged by a person.
func (p *Provider) Inputs(rotationv1alpha1.ProviderSpec) []string { return nil }

// Revocable implements provider.Provider: a random value is registered nowhere, so nothing is ever revoked.
func (p *Provider) Revocable(rotationv1alpha1.ProviderSpec, int64) bool { return false }
