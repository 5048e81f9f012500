// Package plan is `kubectl rotation plan NAME`: a dry run of the next rotation of one RotatedSecret against the live
// cluster. It says which Secret keys and GitHub secrets would be written, which workloads each stage resolves to
// today and how healthy they are, which Jobs would run and as whom, when the rotation would start (window, notice,
// dependencies), who would be notified, and what would stop it before it did anything: RBAC as the ServiceAccount
// the operator impersonates, the admin's guard rails, keys another field manager owns, and specs the operator would
// stall on. Every rule is the operator's own code (internal/specs, policy, tenancy, sink, rollout), so the plan
// cannot disagree with the operator.
//
// The plan changes nothing: it only reads (GET and LIST, as the person running it) and creates access reviews,
// which store nothing. It never shows a value: it reads target Secrets for their keys and owners, and a webhook URL
// to check its scheme and host, and reports neither.
package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/sink"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// Settings are the operator's flags that change what a rotation may do. The plan cannot read them from the
// running operator: the plugin takes them as flags of the same names, with the operator's defaults
// (DefaultSettings), and a person passes what their install sets (config/default sets
// --default-service-account=secret-rotator).
type Settings struct {
	// DefaultServiceAccount is --default-service-account: who the operator acts as for a RotatedSecret without
	// spec.serviceAccountName ("" and none: the operator itself, single-tenant mode).
	DefaultServiceAccount string
	// ProtectedNamespaces is --protected-namespaces.
	ProtectedNamespaces []string
	// OperatorNamespace is the operator's POD_NAMESPACE: always protected, unless WatchNamespaces lists it.
	OperatorNamespace string
	// WatchNamespaces is --watch-namespaces (empty: all).
	WatchNamespaces []string
	// NoCrossNamespaceRefs is --no-cross-namespace-refs.
	NoCrossNamespaceRefs bool
	// HTTPAllowedHosts is --http-allowed-hosts, parsed (egress.Parse); nil allows no host.
	HTTPAllowedHosts *egress.Policy
}

// DefaultSettings are the operator binary's flag defaults.
func DefaultSettings() Settings {
	return Settings{
		ProtectedNamespaces:  slices.Clone(tenancy.DefaultProtectedNamespaces),
		OperatorNamespace:    "secret-rotator-system",
		NoCrossNamespaceRefs: true,
	}
}

// Rules are the guard rails the operator runs with under these settings.
func (s Settings) Rules() tenancy.Rules {
	return tenancy.Rules{NoCrossNamespaceRefs: s.NoCrossNamespaceRefs, Protected: s.ProtectedNamespaces}.
		WithOperatorNamespace(s.OperatorNamespace, s.WatchNamespaces)
}

// Input is what Build needs.
type Input struct {
	// Client reads as the person running the plan (their kubeconfig). It only gets and lists, and creates access
	// reviews. Its scheme needs client-go's types and rotation.tribi.io/v1alpha1 (app.Scheme, cli.Scheme); it must
	// not be a cached client: ownership is read from the full managedFields.
	Client client.Client
	// Config is the same identity, to impersonate the RotatedSecret's ServiceAccount for access reviews.
	Config *rest.Config
	// Namespace and Name of the RotatedSecret.
	Namespace, Name string
	// Settings are the operator's flags (DefaultSettings, changed by the plugin's flags).
	Settings Settings
	// Providers checks the provider block; nil means the operator's registry (app.Providers) for Settings.
	Providers provider.Registry
	// Clock gives "now"; nil means the real clock.
	Clock clock.PassiveClock
}

// Build makes the plan of the next rotation of the RotatedSecret in.Namespace/in.Name. It changes nothing in the
// cluster. A RotatedSecret that cannot be read is an error; anything else that cannot be read or checked is said in
// the report.
func Build(ctx context.Context, in Input) (*Report, error) {
	if in.Client == nil {
		return nil, errors.New("plan: no client")
	}
	if in.Clock == nil {
		in.Clock = clock.RealClock{}
	}
	if in.Providers == nil {
		var err error
		if in.Providers, err = app.Providers(app.Options{Workers: 2, HTTPAllowedHosts: in.Settings.HTTPAllowedHosts}); err != nil {
			return nil, err
		}
	}
	rs := &rotationv1alpha1.RotatedSecret{}
	if err := in.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: in.Name}, rs); err != nil {
		return nil, fmt.Errorf("reading RotatedSecret %s/%s: %w", in.Namespace, in.Name, err)
	}
	b := &builder{in: in, rs: rs, now: in.Clock.Now().UTC(), stageOf: map[tenancy.Action]string{}, r: &Report{
		RotatedSecret: rs.Namespace + "/" + rs.Name, Phase: string(rs.Status.Phase),
		CurrentRevision: rs.Status.CurrentRevision, NextRevision: specs.NextRevision(rs.Status), Targets: []Target{},
	}}
	b.r.Time = b.now
	var err error
	if b.actor, err = b.identity(); err != nil {
		return nil, err
	}
	b.r.ActsAs = b.actor.String()
	b.checkSpec(ctx)
	steps := []func(context.Context) error{b.schedule, b.targets, b.stages, b.jobs, b.dependencies, b.notifications, b.access}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return b.r, nil
}

// builder fills a Report.
type builder struct {
	in    Input
	rs    *rotationv1alpha1.RotatedSecret
	now   time.Time
	r     *Report
	actor tenancy.Actor
	// parsed is the spec as the operator reads it; valid is false when it would stall with InvalidSpec.
	parsed specs.Parsed
	valid  bool
	// due is since when the next rotation is due (zero: at once, or not computed).
	due time.Time
	// emergency: the next rotation is an emergency (no previous value kept).
	emergency bool
	// workloads are every stage's workloads as they resolve now; checks are the access checks to ask.
	workloads []rollout.Workload
	stageOf   map[tenancy.Action]string // the first stage of each workload's restart
	checks    []pendingCheck
}

// pendingCheck is an action to check, what it is for, and whether the operator pre-flights it.
type pendingCheck struct {
	action    tenancy.Action
	what      string
	preflight bool
}

// refuse adds a refusal.
func (b *builder) refuse(reason, msg string) {
	b.r.Refusals = append(b.r.Refusals, Refusal{Reason: reason, Message: msg})
}

// note records what could not be read or checked.
func (b *builder) note(format string, args ...any) {
	b.r.Notes = append(b.r.Notes, fmt.Sprintf(format, args...))
}

// want queues an access check (the first of equal actions wins).
func (b *builder) want(a tenancy.Action, what string, preflight bool) {
	for _, c := range b.checks {
		if c.action == a {
			return
		}
	}
	b.checks = append(b.checks, pendingCheck{action: a, what: what, preflight: preflight})
}

// identity is who the operator acts as for the RotatedSecret: its ServiceAccount, impersonated by the person's
// own config, or the operator itself.
func (b *builder) identity() (tenancy.Actor, error) {
	sa := b.rs.Spec.ServiceAccountName
	if sa == "" && b.in.Settings.DefaultServiceAccount == "" {
		return tenancy.Actor{Writer: b.in.Client, Reader: b.in.Client}, nil
	}
	if b.in.Config == nil {
		return tenancy.Actor{}, errors.New("plan: no REST config to check the ServiceAccount's rights with")
	}
	ids := tenancy.NewIdentities(b.in.Config, client.Options{Scheme: b.in.Client.Scheme(), Mapper: b.in.Client.RESTMapper()},
		b.in.Client, b.in.Client, b.in.Settings.DefaultServiceAccount)
	return ids.For(b.rs.Namespace, sa)
}

// checkSpec applies what the operator checks first: the guard rails, the annotations' tokens, the spec
// (InvalidSpec), the emergency overrides and dependency cycles. The server-side dry run of the Job templates is
// not made: it is a create request, and the plan makes none.
func (b *builder) checkSpec(ctx context.Context) {
	var rule *tenancy.RuleError
	if err := b.in.Settings.Rules().CheckSpec(b.rs); errors.As(err, &rule) {
		reason := rotationv1alpha1.ReasonProtectedNamespace
		if rule.CrossNamespace {
			reason = rotationv1alpha1.ReasonCrossNamespaceRef
		}
		b.refuse(reason, rule.Message)
	}
	if msg, refused := policy.RefusedRequest(b.rs); refused {
		b.refuse(rotationv1alpha1.ReasonInvalidRequest, msg)
	}
	parsed, err := specs.Check(b.rs, b.in.Providers)
	if err != nil {
		b.refuse(rotationv1alpha1.ReasonInvalidSpec, err.Error())
		return
	}
	b.parsed, b.valid = parsed, true
	err = specs.CheckOverrides(b.rs, func(name string) string {
		sec := &corev1.Secret{}
		if err := b.in.Client.Get(ctx, client.ObjectKey{Namespace: b.rs.Namespace, Name: name}, sec); err != nil {
			sec = nil // missing, or not readable by the person: judged by its name alone
		}
		return sink.Reserved(b.rs.Namespace, name, sec, b.rotatedSecretExists(ctx))
	})
	if err != nil {
		b.refuse(rotationv1alpha1.ReasonInvalidSpec, err.Error())
	}
	cycle := specs.DependencyCycle(b.rs, func(namespace, name string) *rotationv1alpha1.RotatedSecret {
		var next rotationv1alpha1.RotatedSecret
		if b.in.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &next) != nil {
			return nil
		}
		return &next
	})
	if cycle != "" {
		b.refuse(rotationv1alpha1.ReasonInvalidSpec, fmt.Sprintf("spec.dependsOn: a cycle: %s; a RotatedSecret cannot wait for itself", cycle))
	}
}

// rotatedSecretExists tells whether a RotatedSecret exists (for sink.Reserved), as the person can see.
func (b *builder) rotatedSecretExists(ctx context.Context) func(namespace, name string) bool {
	return func(namespace, name string) bool {
		var other rotationv1alpha1.RotatedSecret
		return b.in.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &other) == nil
	}
}
