package random

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/iotest"

	. "github.com/onsi/gomega"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
)

func req(length int32, enc rotationv1alpha1.RandomEncoding) provider.Request {
	return provider.Request{Revision: 1, Spec: rotationv1alpha1.ProviderSpec{
		Random: &rotationv1alpha1.RandomProvider{Length: length, Encoding: enc},
	}}
}

// counting yields 0, 1, 2, ... so the output of Generate is predictable.
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func TestGenerateEncodings(t *testing.T) {
	cases := []struct {
		enc     rotationv1alpha1.RandomEncoding
		length  int32
		pattern string
	}{
		{rotationv1alpha1.EncodingHex, 32, `^[0-9a-f]{64}$`},
		{"", 0, `^[0-9a-f]{64}$`}, // defaults: openssl rand -hex 32
		{rotationv1alpha1.EncodingBase64, 32, `^[A-Za-z0-9+/]{43}=$`},
		{rotationv1alpha1.EncodingBase64URL, 32, `^[A-Za-z0-9_-]{43}$`},
		{rotationv1alpha1.EncodingAlphanumeric, 40, `^[A-Za-z0-9]{40}$`},
		{rotationv1alpha1.EncodingHex, 16, `^[0-9a-f]{32}$`},
	}
	for _, c := range cases {
		t.Run(string(c.enc), func(t *testing.T) {
			g := NewWithT(t)
			p := New(&counting{})
			res, err := p.Generate(context.Background(), req(c.length, c.enc))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Values).To(HaveLen(1))
			g.Expect(string(res.Values[provider.DefaultOutput])).To(MatchRegexp(c.pattern))
			g.Expect(p.Verify(context.Background(), req(c.length, c.enc), res)).To(Succeed())
		})
	}
}

func TestGenerateReadsInjectedReader(t *testing.T) {
	g := NewWithT(t)
	res, err := New(&counting{}).Generate(context.Background(), req(16, rotationv1alpha1.EncodingHex))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(res.Values["value"])).To(Equal("000102030405060708090a0b0c0d0e0f"))

	// Two generations from the same stream differ: the provider never caches a value.
	p := New(&counting{})
	a, _ := p.Generate(context.Background(), req(16, rotationv1alpha1.EncodingHex))
	b, _ := p.Generate(context.Background(), req(16, rotationv1alpha1.EncodingHex))
	g.Expect(a.Values["value"]).NotTo(Equal(b.Values["value"]))
}

func TestGenerateReaderFailure(t *testing.T) {
	g := NewWithT(t)
	boom := errors.New("entropy exhausted")
	_, err := New(iotest.ErrReader(boom)).Generate(context.Background(), req(32, rotationv1alpha1.EncodingHex))
	g.Expect(err).To(MatchError(boom))
	_, err = New(bytes.NewReader(make([]byte, 10))).Generate(context.Background(), req(32, rotationv1alpha1.EncodingBase64))
	g.Expect(err).To(HaveOccurred(), "a short read must fail, not return a shorter value")
}

func TestAlphanumericIsUnbiased(t *testing.T) {
	g := NewWithT(t)
	// Bytes 248..255 would map onto the first 8 letters more often; they must be skipped, not folded.
	src := bytes.NewReader(append(bytes.Repeat([]byte{255}, 16), bytes.Repeat([]byte{61}, 32)...))
	res, err := New(src).Generate(context.Background(), req(16, rotationv1alpha1.EncodingAlphanumeric))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(res.Values["value"])).To(Equal("9999999999999999"))
}

func TestVerifyRejectsWrongShape(t *testing.T) {
	g := NewWithT(t)
	p := New(&counting{})
	bad := func(v string) provider.Result { return provider.Result{Values: provider.Values{"value": []byte(v)}} }
	g.Expect(p.Verify(context.Background(), req(16, "hex"), bad("zz"))).To(MatchError(ContainSubstring("not hex")))
	g.Expect(p.Verify(context.Background(), req(16, "hex"), bad("00"))).To(MatchError(ContainSubstring("length 1, want 16")))
	g.Expect(p.Verify(context.Background(), req(16, "alphanumeric"), bad("abc-"))).To(HaveOccurred())
	g.Expect(p.Verify(context.Background(), req(16, "hex"), provider.Result{})).To(HaveOccurred())
}
