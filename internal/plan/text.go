package plan

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report for a person: a header, then one table per part in a fixed order (targets, GitHub
// mirrors, rollout, Jobs, dependencies, notifications, access), then what would be refused and the notes. Rows
// keep the report's order, so the same cluster gives the same text.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := &printer{w: tw}
	p.line("RotatedSecret %s: revision %d (%s); the next rotation makes revision %d", r.RotatedSecret, r.CurrentRevision,
		orDash(r.Phase), r.NextRevision)
	p.line("Acts as:\t%s", r.ActsAs)
	if r.InProgress != "" {
		p.line("In progress:\t%s", r.InProgress)
	}
	p.line("When:\t%s", r.Schedule.Message)

	p.section("TARGETS", "SECRET\tEXISTS\tKEY\tFROM\tKEY NOW\tOWNED BY")
	for _, t := range r.Targets {
		exists := yesNo(t.Exists)
		if t.Unknown {
			exists = "unknown"
		}
		for i, k := range t.Keys {
			secret := t.Secret
			if i > 0 {
				secret, exists = "", ""
			}
			name := k.Name
			if k.Previous {
				name += " (previous value)"
			}
			p.line("%s\t%s\t%s\t%s\t%s\t%s", secret, exists, name, k.From, presence(k.Exists), orDash(strings.Join(k.OwnedBy, ", ")))
		}
	}
	if len(r.Mirrors) > 0 {
		p.section("GITHUB ACTIONS MIRRORS (written first)", "TARGET\tHOLDS REVISION\tTOKEN SECRET")
		for _, m := range r.Mirrors {
			p.line("%s\t%d\t%s", m.Target, m.Revision, m.Token)
		}
	}
	if len(r.Stages) > 0 {
		p.section("ROLLOUT (stages in order)", "STAGE\tTIMEOUT\tWORKLOAD\tHEALTH\tREADY\tON REVISION")
		for _, st := range r.Stages {
			name := st.Name
			if st.Selector != "" {
				name += " (selector " + st.Selector + ")"
			}
			if len(st.Workloads) == 0 {
				p.line("%s\t%s\t(none: healthy at once)\t-\t-\t-", name, st.Timeout)
			}
			for i, wl := range st.Workloads {
				stage, timeout := name, st.Timeout
				if i > 0 {
					stage, timeout = "", ""
				}
				p.line("%s\t%s\t%s %s/%s\t%s\t%d/%d\t%d", stage, timeout, wl.Kind, wl.Namespace, wl.Name, wl.Health,
					wl.Ready, wl.Desired, wl.Revision)
			}
		}
	}
	if len(r.Jobs) > 0 {
		p.section("JOBS", "KIND\tJOB\tRUNS AS\tCREATED AS\tWHEN")
		for _, j := range r.Jobs {
			p.line("%s\t%s\tServiceAccount %s\t%s\t%s", j.Kind, j.JobName, j.ServiceAccount, j.CreatedAs, j.When)
		}
	}
	if len(r.Dependencies) > 0 {
		p.section("DEPENDENCIES", "ROTATEDSECRET\tPHASE\tREVISION\tREADY\tSATISFIED\tWAITING FOR")
		for _, d := range r.Dependencies {
			phase := d.Phase
			if !d.Exists {
				phase = "not found"
			}
			p.line("%s\t%s\t%d\t%s\t%s\t%s", d.RotatedSecret, orDash(phase), d.CurrentRevision, yesNo(d.Ready),
				yesNo(d.Satisfied), orDash(d.Message))
		}
	}
	if len(r.Notifications) > 0 {
		p.section("NOTIFICATIONS", "SINK\tFORMAT\tEVENTS\tURL SECRET\tURL CHECK")
		for _, n := range r.Notifications {
			p.line("spec.notify[%d]\t%s\t%s\t%s\t%s", n.Sink, n.Format, strings.Join(n.Events, ","), n.URLSecret, n.URLCheck)
		}
	}
	title := "ACCESS (not checked)"
	if r.Access.Checked {
		title = "ACCESS (RBAC of " + r.ActsAs + ", asked by " + r.Access.Method + ")"
	}
	p.section(title, "RESULT\tPRE-FLIGHT\tACTION\tFOR")
	if r.Access.Message != "" {
		p.line("%s", r.Access.Message)
	}
	for _, c := range r.Access.Checks {
		p.line("%s\t%s\t%s\t%s", c.Result, yesNo(c.Preflight), c.Action, c.For)
	}
	if len(r.Refusals) == 0 {
		p.section("REFUSED BEFORE IT WOULD FAIL", "")
		p.line("nothing")
	} else {
		p.section("REFUSED BEFORE IT WOULD FAIL", "")
		for _, f := range r.Refusals {
			p.line("%s: %s", f.Reason, f.Message)
		}
	}
	if len(r.Notes) > 0 {
		p.section("NOTES", "")
		for _, n := range r.Notes {
			p.line("%s", n)
		}
	}
	if p.err != nil {
		return p.err
	}
	return tw.Flush()
}

// printer writes lines and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) section(title, header string) {
	p.line("")
	p.line("%s", title)
	if header != "" {
		p.line("%s", header)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func presence(b bool) string {
	if b {
		return "present"
	}
	return "absent"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
