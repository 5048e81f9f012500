package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

func newIncidentCommand(o *Options) *cobra.Command {
	var out output
	var revision int64
	var appendTo string
	cmd := &cobra.Command{
		Use:   "incident NAME",
		Short: "The post-incident review of an emergency, as Markdown (from status.incidents)",
		Long: "incident writes the post-incident review of the newest emergency of a RotatedSecret (or the one that " +
			"produced --revision) from the operator's incident record: reason, who asked, the compromised and new " +
			"revisions, the timeline, revocations, overrides, Jobs and notifications, and a findings section to fill " +
			"in. --append adds it to a file such as REGRESSIONS_FIXED.md.",
		Example: "  kubectl rotation incident jwt-secret -n backend --append REGRESSIONS_FIXED.md",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := o.named(cmd.Context(), &out, args[0])
			if err != nil {
				return err
			}
			inc, err := pickIncident(rs, revision)
			if err != nil {
				return err
			}
			if appendTo == "" {
				return out.print(o.Out, inc, func(w io.Writer) error { return writeReview(w, rs, inc) })
			}
			var b bytes.Buffer
			if err := writeReview(&b, rs, inc); err != nil {
				return err
			}
			if err := appendFile(appendTo, b.Bytes()); err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.Out, "Appended the review of %s/%s revision %d to %s\n", rs.Namespace, rs.Name, inc.Revision, appendTo)
			return err
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "The incident whose emergency rotation produced this revision (default: the newest incident)")
	cmd.Flags().StringVar(&appendTo, "append", "", "Append the review to this Markdown file (created if missing) instead of printing it")
	out.addFlag(cmd, "Markdown")
	return cmd
}

// pickIncident is the incident that produced revision, or the newest (status.incidents is newest first).
func pickIncident(rs *rotationv1alpha1.RotatedSecret, revision int64) (*rotationv1alpha1.Incident, error) {
	list := rs.Status.Incidents
	if len(list) == 0 {
		return nil, fmt.Errorf("RotatedSecret %s/%s has no incident record (status.incidents is empty: no emergency yet)", rs.Namespace, rs.Name)
	}
	if revision == 0 {
		return &list[0], nil
	}
	for i := range list {
		if list[i].Revision == revision {
			return &list[i], nil
		}
	}
	return nil, fmt.Errorf("RotatedSecret %s/%s has no incident that produced revision %d", rs.Namespace, rs.Name, revision)
}

// appendFile adds review to path after a blank line, creating the file if needed.
func appendFile(path string, review []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		review = append([]byte("\n"), review...)
	}
	_, err = f.Write(review)
	return errors.Join(err, f.Close())
}

// reviewSections group timeline entry types under the review's headings.
var reviewSections = []struct {
	title string
	types []rotationv1alpha1.IncidentEntryType
}{
	{"Revocations", []rotationv1alpha1.IncidentEntryType{rotationv1alpha1.IncidentRevoked,
		rotationv1alpha1.IncidentRevocationFailed, rotationv1alpha1.IncidentRevocationRequested, rotationv1alpha1.IncidentPreviousRemoved}},
	{"Overrides", []rotationv1alpha1.IncidentEntryType{rotationv1alpha1.IncidentOverrideApplied,
		rotationv1alpha1.IncidentOverrideReverted, rotationv1alpha1.IncidentOverrideKept}},
	{"Jobs", []rotationv1alpha1.IncidentEntryType{rotationv1alpha1.IncidentValidation, rotationv1alpha1.IncidentPurgeJob}},
	{"Notifications", []rotationv1alpha1.IncidentEntryType{rotationv1alpha1.IncidentNotified}},
}

// writeReview writes the Markdown review of inc.
func writeReview(w io.Writer, rs *rotationv1alpha1.RotatedSecret, inc *rotationv1alpha1.Incident) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Incident: %s/%s, %s\n\n", rs.Namespace, rs.Name, inc.RequestedAt.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- **Reason:** %s\n", md(orDash(inc.Reason)))
	fmt.Fprintf(&b, "- **Requested by:** %s at %s (emergency token `%s`)\n", md(orDash(inc.RequestedBy)), stamp(&inc.RequestedAt), md(inc.Token))
	fmt.Fprintf(&b, "- **Owner:** %s\n", md(orDash(rs.Spec.Owner)))
	fmt.Fprintf(&b, "- **Compromised revision:** %s\n", revisionLine(rs, inc.CompromisedRevision))
	fmt.Fprintf(&b, "- **New revision:** %s\n", revisionLine(rs, inc.Revision))
	end := "still in progress"
	if inc.EndTime != nil {
		end = fmt.Sprintf("%s at %s (%s after the request)", inc.Outcome, stamp(inc.EndTime), short(inc.EndTime.Sub(inc.RequestedAt.Time)))
	}
	fmt.Fprintf(&b, "- **Outcome:** %s\n\n", end)

	b.WriteString("### Timeline\n\n| Time (UTC) | Step | What happened |\n|---|---|---|\n")
	for _, e := range inc.Timeline {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", e.Time.UTC().Format("15:04:05"), e.Type, cell(e.Message))
	}
	for _, sec := range reviewSections {
		fmt.Fprintf(&b, "\n### %s\n\n", sec.title)
		n := 0
		for _, e := range inc.Timeline {
			for _, t := range sec.types {
				if e.Type == t {
					fmt.Fprintf(&b, "- %s %s\n", e.Time.UTC().Format("15:04:05"), md(e.Message))
					n++
				}
			}
		}
		n += stillOpen(&b, rs, inc, sec.title)
		if n == 0 {
			b.WriteString("- none\n")
		}
	}
	b.WriteString("\n### Findings\n\n- **Root cause:** _to fill in_\n- **How it was detected:** _to fill in_\n" +
		"- **What went well:** _to fill in_\n- **What went badly:** _to fill in_\n- **Action items:**\n  - [ ] _to fill in_\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// stillOpen lists what the incident left open under a section: revocations still pending, overrides still active.
func stillOpen(b *strings.Builder, rs *rotationv1alpha1.RotatedSecret, inc *rotationv1alpha1.Incident, section string) int {
	n := 0
	switch section {
	case "Revocations":
		for _, r := range rs.Status.Revocations {
			if r.Revision == inc.CompromisedRevision || r.Compromised {
				who := "the operator retries"
				if r.HumanRequired {
					who = "a person must revoke it"
				}
				fmt.Fprintf(b, "- still pending: revision %d (%s) %s\n", r.Revision, who, md(r.Message))
				n++
			}
		}
	case "Overrides":
		for _, ov := range rs.Status.Overrides {
			if ov.Incident == inc.Token {
				fmt.Fprintf(b, "- still active: %s %s key %s until %s\n", ov.Kind, ov.Name, ov.Key, stamp(&ov.ExpiresAt))
				n++
			}
		}
	}
	return n
}

// revisionLine names a revision with its fingerprint and outcome from history.
func revisionLine(rs *rotationv1alpha1.RotatedSecret, rev int64) string {
	if rev == 0 {
		return "none"
	}
	for _, h := range rs.Status.History {
		if h.Revision == rev {
			return fmt.Sprintf("%d (%s, %s, fingerprint `%s`)", rev, h.Trigger, h.Outcome, orDash(h.Fingerprint))
		}
	}
	return fmt.Sprint(rev)
}

// md keeps operator text from breaking the Markdown: one line, no HTML.
func md(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
}

// cell is md for a table cell: a pipe would end the cell.
func cell(s string) string { return strings.ReplaceAll(md(s), "|", `\|`) }
