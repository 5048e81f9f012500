package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatYAML  = "yaml"
	formatJSON  = "json"
)

// output is a command's -o flag.
type output struct{ format string }

// addOutputFlag adds -o table|yaml|json to cmd; what names the table's form, e.g. "a table" or "Markdown".
func (f *output) addFlag(cmd *cobra.Command, what string) {
	cmd.Flags().StringVarP(&f.format, "output", "o", formatTable,
		fmt.Sprintf("Output format: table (%s), yaml or json", what))
}

// print writes v as YAML or JSON, or calls table for the human form. An unknown format is an error before
// anything is written.
func (f *output) print(w io.Writer, v any, table func(io.Writer) error) error {
	switch f.format {
	case formatTable, "":
		return table(w)
	case formatJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case formatYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q: use table, yaml or json", f.format)
}

// check refuses an unknown -o before a command changes anything.
func (f *output) check() error {
	switch f.format {
	case formatTable, formatJSON, formatYAML, "":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table, yaml or json", f.format)
}

// table writes rows separated by tabs, aligned, with a header.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// age is kubectl's short duration ("3d4h", "5m10s", "12s"); a zero time is "-".
func age(now time.Time, t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return short(now.Sub(t.Time))
}

// short formats d like kubectl's ages, with a sign for the past.
func short(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%s%ds", sign, int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%s%dm%ds", sign, int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%s%dh%dm", sign, int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%s%dd%dh", sign, int(d.Hours())/24, int(d.Hours())%24)
}

// stamp is an RFC 3339 time in UTC, or "-".
func stamp(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash returns s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
