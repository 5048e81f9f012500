package cli

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

func newHistoryCommand(o *Options) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:     "history NAME",
		Short:   "Revisions with trigger, outcome, times, fingerprint and message, newest first",
		Example: "  kubectl rotation history jwt-secret -n backend\n  kubectl rotation history jwt-secret -n backend -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := o.named(cmd.Context(), &out, args[0])
			if err != nil {
				return err
			}
			records := append([]rotationv1alpha1.RotationRecord(nil), rs.Status.History...)
			sort.SliceStable(records, func(i, j int) bool { return records[i].Revision > records[j].Revision })
			return out.print(o.Out, records, func(w io.Writer) error { return historyTable(w, rs, records) })
		},
	}
	out.addFlag(cmd, "one line per revision")
	return cmd
}

// historyTable writes one line per record; a compromised revision says so beside its outcome.
func historyTable(w io.Writer, rs *rotationv1alpha1.RotatedSecret, records []rotationv1alpha1.RotationRecord) error {
	compromised := map[int64]bool{}
	for _, c := range rs.Status.Compromised {
		compromised[c.Revision] = true
	}
	rows := make([][]string, 0, len(records))
	for _, h := range records {
		outcome := string(h.Outcome)
		if compromised[h.Revision] {
			outcome += " (compromised)"
		}
		if h.Revision == rs.Status.CurrentRevision {
			outcome += " *"
		}
		duration := "-"
		if h.CompletionTime != nil {
			duration = short(h.CompletionTime.Sub(h.StartTime.Time))
		}
		rows = append(rows, []string{fmt.Sprint(h.Revision), string(h.Trigger), outcome, stamp(&h.StartTime),
			stamp(h.CompletionTime), duration, orDash(h.Fingerprint), orDash(h.Message)})
	}
	if err := table(w, []string{"REVISION", "TRIGGER", "OUTCOME", "STARTED", "COMPLETED", "TOOK", "FINGERPRINT", "MESSAGE"}, rows); err != nil {
		return err
	}
	if len(records) > 0 {
		_, err := fmt.Fprintln(w, "* in service")
		return err
	}
	return nil
}
