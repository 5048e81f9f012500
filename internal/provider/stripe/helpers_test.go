package stripe

import (
	"context"
	"fmt"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/provider/stripe/stripetest"
)

// creds is a Credentials backed by a map; a missing key is a CredentialError, as the real reader returns.
type creds map[string]string

func (c creds) Credential(_ context.Context, ref rotationv1alpha1.SecretKeyRef) ([]byte, error) {
	v, ok := c[ref.Name+"/"+ref.Key]
	if !ok {
		return nil, &provider.CredentialError{Ref: ref, Err: fmt.Errorf("secret or key not found")}
	}
	return []byte(v), nil
}

// testGuard records "guard" in the fake's call log when Begin is called, and fails with err when set.
type testGuard struct {
	f   *stripetest.Server
	err error
}

func (g testGuard) Begin(context.Context) error {
	g.f.Record("guard")
	return g.err
}
