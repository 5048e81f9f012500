package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/fingerprint"
	"github.com/tribi/secret-rotator/internal/provider"
)

// Copy is one copy of a value: the keys of one target Secret that hold the current value (or, Previous, the keys
// that hold the previous one), fingerprinted as the operator fingerprints a provider result.
type Copy struct {
	// Target is "<namespace>/<secret>".
	Target string `json:"target"`
	// Keys of the Secret that make up the copy (one per provider output).
	Keys []string `json:"keys"`
	// Previous is true for the previous-value keys (<key><suffix>).
	Previous bool `json:"previous,omitempty"`
	// Fingerprint of the values the keys hold now; empty when a key is missing or the Secret cannot be read.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Revision the fingerprint belongs to (0: no known revision).
	Revision int64 `json:"revision,omitempty"`
	// Holds says what the copy holds in words: "revision 4 (current)", "revision 2 (compromised)", "missing".
	Holds string `json:"holds"`
	// OK is true when the copy holds what it should: the current revision, or the previous one under Previous.
	OK bool `json:"ok"`
}

// FingerprintReport is the answer of `kubectl rotation fingerprint`.
type FingerprintReport struct {
	Namespace          string `json:"namespace"`
	Name               string `json:"name"`
	CurrentRevision    int64  `json:"currentRevision"`
	CurrentFingerprint string `json:"currentFingerprint,omitempty"`
	Copies             []Copy `json:"copies"`
	// NotChecked lists targets whose values cannot be read back (GitHub Actions secrets are write-only).
	NotChecked []string `json:"notChecked,omitempty"`
}

func newFingerprintCommand(o *Options) *cobra.Command {
	var out output
	var noHeaders, follow bool
	cmd := &cobra.Command{
		Use:   "fingerprint NAME",
		Short: "Fingerprint the value every target holds now and compare it with status",
		Long: "fingerprint reads each target Secret of the RotatedSecret, computes the keyed fingerprint of the value " +
			"it holds with the operator's key (Secret secret-rotator-fingerprint-key in --operator-namespace, which you " +
			"must be allowed to get) and says which revision it is. It never prints a value. It exits 4 when a copy " +
			"does not hold the current value (or the previous one under the previous-value keys).\n\n" +
			"--watch prints a line each time a target Secret changes, until interrupted.",
		Example: "  kubectl rotation fingerprint jwt-secret -n backend\n  kubectl rotation fingerprint jwt-secret -n backend --watch",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, err := o.begin(&out)
			if err != nil {
				return err
			}
			fp, err := o.fingerprinter(cmd.Context(), ns, args[0])
			if err != nil {
				return err
			}
			if follow {
				return fp.watch(cmd.Context(), noHeaders)
			}
			report, err := fp.report(cmd.Context())
			if err != nil {
				return err
			}
			if err := out.print(o.Out, report, func(w io.Writer) error { return copiesTable(w, report, noHeaders) }); err != nil {
				return err
			}
			for _, c := range report.Copies {
				if !c.OK {
					return &ExitError{Code: ExitMismatch, Err: fmt.Errorf("%s %s: %s, not the %s value",
						c.Target, strings.Join(c.Keys, ","), c.Holds, map[bool]string{false: "current", true: "previous"}[c.Previous])}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "Leave out the table's header")
	cmd.Flags().BoolVarP(&follow, "watch", "w", false, "Print a line each time a target Secret changes")
	out.addFlag(cmd, "one line per copy")
	return cmd
}

// fingerprinter fingerprints the targets of one RotatedSecret.
type fingerprinter struct {
	out   io.Writer
	cl    client.WithWatch
	keyer *fingerprint.Keyer
	ns    string
	name  string
}

// fingerprinter reads the operator's fingerprint key; a refusal says which permission is missing.
func (o *Options) fingerprinter(ctx context.Context, ns, name string) (*fingerprinter, error) {
	cl, err := o.Client()
	if err != nil {
		return nil, err
	}
	var keySecret corev1.Secret
	err = cl.Get(ctx, client.ObjectKey{Namespace: o.OperatorNamespace, Name: fingerprint.KeySecretName}, &keySecret)
	switch {
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("reading the operator's fingerprint key was refused: fingerprint needs `get` on Secret %s/%s "+
			"(ask whoever runs the operator; docs/security.md)", o.OperatorNamespace, fingerprint.KeySecretName)
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("no fingerprint key Secret %s/%s: is the operator installed there? (--operator-namespace)",
			o.OperatorNamespace, fingerprint.KeySecretName)
	case err != nil:
		return nil, fmt.Errorf("reading the fingerprint key: %w", err)
	}
	key, err := fingerprint.KeyFrom(&keySecret)
	if err != nil {
		return nil, err
	}
	return &fingerprinter{out: o.Out, cl: cl, keyer: fingerprint.New(key), ns: ns, name: name}, nil
}

// group is the keys one target Secret holds for the RotatedSecret: key -> provider output.
type group struct {
	namespace, secret string
	keys              map[string]string
}

// groups collects the Kubernetes Secret targets of rs by Secret; GitHub Actions targets are returned apart.
func groups(rs *rotationv1alpha1.RotatedSecret) ([]*group, []string) {
	byName := map[string]*group{}
	var gs []*group
	var unreadable []string
	for _, t := range rs.Spec.Targets {
		if t.GitHubActions != nil {
			unreadable = append(unreadable, fmt.Sprintf("GitHub Actions secret %s of %s (write-only)", t.GitHubActions.Name, t.GitHubActions.Repository))
			continue
		}
		ns := t.Namespace
		if ns == "" {
			ns = rs.Namespace
		}
		id := ns + "/" + t.SecretName
		g := byName[id]
		if g == nil {
			g = &group{namespace: ns, secret: t.SecretName, keys: map[string]string{}}
			byName[id] = g
			gs = append(gs, g)
		}
		from := t.From
		if from == "" {
			from = provider.DefaultOutput
		}
		g.keys[t.Key] = from
	}
	return gs, unreadable
}

// report reads the RotatedSecret and every target Secret once.
func (f *fingerprinter) report(ctx context.Context) (*FingerprintReport, error) {
	var rs rotationv1alpha1.RotatedSecret
	if err := f.cl.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: f.name}, &rs); err != nil {
		return nil, fmt.Errorf("reading RotatedSecret %s/%s: %w", f.ns, f.name, err)
	}
	gs, unreadable := groups(&rs)
	r := &FingerprintReport{Namespace: rs.Namespace, Name: rs.Name, CurrentRevision: rs.Status.CurrentRevision,
		CurrentFingerprint: rs.Status.CurrentFingerprint, NotChecked: unreadable}
	for _, g := range gs {
		var s corev1.Secret
		err := f.cl.Get(ctx, client.ObjectKey{Namespace: g.namespace, Name: g.secret}, &s)
		r.Copies = append(r.Copies, f.copies(&rs, g, &s, err)...)
	}
	return r, nil
}

// copies fingerprints the current keys of g in s, and its previous-value keys while a previous value is kept.
// readErr is the error of reading s.
func (f *fingerprinter) copies(rs *rotationv1alpha1.RotatedSecret, g *group, s *corev1.Secret, readErr error) []Copy {
	out := []Copy{f.copyOf(rs, g, s, readErr, "")}
	if rs.Status.PreviousRevision > 0 && rs.Status.PreviousExpiryTime != nil {
		out = append(out, f.copyOf(rs, g, s, readErr, previousSuffix(rs)))
	}
	return out
}

// copyOf fingerprints the keys of g (with suffix appended) in s.
func (f *fingerprinter) copyOf(rs *rotationv1alpha1.RotatedSecret, g *group, s *corev1.Secret, readErr error, suffix string) Copy {
	c := Copy{Target: g.namespace + "/" + g.secret, Previous: suffix != ""}
	values := provider.Values{}
	var missing []string
	for key, from := range g.keys {
		c.Keys = append(c.Keys, key+suffix)
		if v, ok := s.Data[key+suffix]; ok && readErr == nil {
			values[from] = v
		} else {
			missing = append(missing, key+suffix)
		}
	}
	sort.Strings(c.Keys)
	sort.Strings(missing)
	switch {
	case apierrors.IsNotFound(readErr):
		c.Holds = "missing (no such Secret)"
	case apierrors.IsForbidden(readErr):
		c.Holds = "not readable (forbidden)"
	case readErr != nil:
		c.Holds = "not readable: " + readErr.Error()
	case len(missing) > 0:
		c.Holds = "missing key " + strings.Join(missing, ",")
	default:
		c.Fingerprint = f.keyer.Of(values)
		c.Revision, c.Holds = whose(rs, c.Fingerprint)
	}
	want := rs.Status.CurrentRevision
	if c.Previous {
		want = rs.Status.PreviousRevision
	}
	c.OK = c.Revision != 0 && c.Revision == want && !isCompromised(rs, c.Fingerprint)
	return c
}

// whose names the revision a fingerprint belongs to, from status and history.
func whose(rs *rotationv1alpha1.RotatedSecret, fp string) (int64, string) {
	st := rs.Status
	for _, c := range st.Compromised {
		if c.Fingerprint == fp {
			return c.Revision, fmt.Sprintf("revision %d (compromised)", c.Revision)
		}
	}
	if fp == st.CurrentFingerprint && st.CurrentRevision > 0 {
		return st.CurrentRevision, fmt.Sprintf("revision %d (current)", st.CurrentRevision)
	}
	if p := st.Pending; p != nil && p.Fingerprint == fp {
		return p.Revision, fmt.Sprintf("revision %d (rotation in progress)", p.Revision)
	}
	for _, h := range st.History {
		if h.Fingerprint == fp {
			note := strings.ToLower(string(h.Outcome))
			if h.Revision == st.PreviousRevision {
				note = "previous"
			}
			return h.Revision, fmt.Sprintf("revision %d (%s)", h.Revision, note)
		}
	}
	return 0, "an unknown value"
}

func isCompromised(rs *rotationv1alpha1.RotatedSecret, fp string) bool {
	for _, c := range rs.Status.Compromised {
		if c.Fingerprint == fp {
			return true
		}
	}
	return false
}

// previousSuffix is spec.previous.suffix with its default.
func previousSuffix(rs *rotationv1alpha1.RotatedSecret) string {
	if p := rs.Spec.Previous; p != nil && p.Suffix != "" {
		return p.Suffix
	}
	return "_PREVIOUS"
}

// copiesTable writes one line per copy and, apart, the targets that cannot be checked.
func copiesTable(w io.Writer, r *FingerprintReport, noHeaders bool) error {
	rows := make([][]string, 0, len(r.Copies))
	for _, c := range r.Copies {
		rows = append(rows, copyRow(c))
	}
	if err := writeRows(w, []string{"TARGET", "KEYS", "FINGERPRINT", "HOLDS", "OK"}, rows, noHeaders); err != nil {
		return err
	}
	for _, n := range r.NotChecked {
		if _, err := fmt.Fprintf(w, "not checked: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

func copyRow(c Copy) []string {
	ok := "no"
	if c.OK {
		ok = "yes"
	}
	return []string{c.Target, strings.Join(c.Keys, ","), orDash(c.Fingerprint), c.Holds, ok}
}

// writeRows is table with an optional header.
func writeRows(w io.Writer, header []string, rows [][]string, noHeaders bool) error {
	if noHeaders {
		return table(w, nil, rows)
	}
	return table(w, header, rows)
}
