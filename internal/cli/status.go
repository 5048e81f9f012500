package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/schedule"
)

// Status is one RotatedSecret as `kubectl rotation status` shows it.
type Status struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Revision is the revision in service.
	Revision int64 `json:"revision"`
	// LastRotation is when it was committed; ValueAge how long ago that is.
	LastRotation *metav1.Time `json:"lastRotation,omitempty"`
	ValueAge     string       `json:"valueAge"`
	// NextRotation is when the next rotation starts: the TTL moved to the next maintenance window, or the
	// operator's plan for a rotation already due (window, notice).
	NextRotation *metav1.Time `json:"nextRotation,omitempty"`
	// NextRotationNote says what moved it from the TTL (a window, the notice, a missed window).
	NextRotationNote string `json:"nextRotationNote,omitempty"`
	// Phase of the RotatedSecret; Step and PendingRevision of the rotation in progress.
	Phase           string `json:"phase"`
	Step            string `json:"step,omitempty"`
	PendingRevision int64  `json:"pendingRevision,omitempty"`
	Emergency       bool   `json:"emergency,omitempty"`
	// Stage in progress, the stages done out of all, and the stage's workloads healthy out of all, while a
	// rotation is in progress (Stages alone otherwise).
	Stage          string `json:"stage,omitempty"`
	StagesDone     int    `json:"stagesDone"`
	Stages         int    `json:"stages"`
	WorkloadsReady int    `json:"workloadsReady"`
	Workloads      int    `json:"workloads"`
	// RevocationsPending are old credentials not yet revoked ("r3 (person)" when only a person can).
	RevocationsPending []string `json:"revocationsPending,omitempty"`
	// Overrides active now ("ConfigMap/backend-config[RATE_LIMIT] until ...").
	Overrides []string `json:"overrides,omitempty"`
	// Overdue: the value in service is past its TTL. Suspended: spec.suspend. Stalled: the Stalled reason.
	Overdue   bool   `json:"overdue,omitempty"`
	Suspended bool   `json:"suspended,omitempty"`
	Stalled   string `json:"stalled,omitempty"`
	// Message is the Ready condition's message.
	Message string `json:"message,omitempty"`
}

func newStatusCommand(o *Options) *cobra.Command {
	var out output
	var all bool
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Revision, value age, next rotation, rotation in progress, revocations, overrides and flags",
		Example: "  kubectl rotation status -n backend\n  kubectl rotation status jwt-secret -n backend -o yaml\n" +
			"  kubectl rotation status -A",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if all && len(args) > 0 {
				return fmt.Errorf("a NAME and --all-namespaces cannot be combined")
			}
			items, err := o.statuses(cmd.Context(), args, all)
			if err != nil {
				return err
			}
			var v any = items
			if len(args) == 1 {
				v = items[0]
			}
			return out.print(o.Out, v, func(w io.Writer) error { return statusTable(w, items, all) })
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the RotatedSecrets of every namespace")
	out.addFlag(cmd, "one line per RotatedSecret")
	return cmd
}

// statuses reads the named RotatedSecret, or lists them (in one namespace or all).
func (o *Options) statuses(ctx context.Context, args []string, all bool) ([]Status, error) {
	cl, err := o.Client()
	if err != nil {
		return nil, err
	}
	ns, err := o.Namespace()
	if err != nil {
		return nil, err
	}
	var list []rotationv1alpha1.RotatedSecret
	if len(args) == 1 {
		rs, err := o.get(ctx, ns, args[0])
		if err != nil {
			return nil, err
		}
		list = append(list, *rs)
	} else {
		var l rotationv1alpha1.RotatedSecretList
		var opts []client.ListOption
		if !all {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := cl.List(ctx, &l, opts...); err != nil {
			return nil, fmt.Errorf("listing RotatedSecrets: %w", err)
		}
		list = l.Items
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Namespace != list[j].Namespace {
			return list[i].Namespace < list[j].Namespace
		}
		return list[i].Name < list[j].Name
	})
	now := o.Now()
	items := make([]Status, 0, len(list))
	for i := range list {
		items = append(items, statusOf(&list[i], now))
	}
	return items, nil
}

// begin refuses an unknown -o before anything is read, then returns the namespace of the flags.
func (o *Options) begin(out *output) (string, error) {
	if err := out.check(); err != nil {
		return "", err
	}
	return o.Namespace()
}

// named is begin, then reads the RotatedSecret name in that namespace.
func (o *Options) named(ctx context.Context, out *output, name string) (*rotationv1alpha1.RotatedSecret, error) {
	ns, err := o.begin(out)
	if err != nil {
		return nil, err
	}
	return o.get(ctx, ns, name)
}

// get reads one RotatedSecret, with an error that names it.
func (o *Options) get(ctx context.Context, ns, name string) (*rotationv1alpha1.RotatedSecret, error) {
	cl, err := o.Client()
	if err != nil {
		return nil, err
	}
	var rs rotationv1alpha1.RotatedSecret
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &rs); err != nil {
		return nil, fmt.Errorf("reading RotatedSecret %s/%s: %w", ns, name, err)
	}
	return &rs, nil
}

// statusOf sums up rs at now.
func statusOf(rs *rotationv1alpha1.RotatedSecret, now time.Time) Status {
	st := rs.Status
	s := Status{
		Namespace: rs.Namespace, Name: rs.Name, Revision: st.CurrentRevision, LastRotation: st.LastRotationTime,
		ValueAge: age(now, st.LastRotationTime), Phase: string(st.Phase), Suspended: rs.Spec.Suspend,
	}
	s.NextRotation, s.NextRotationNote = nextRotation(rs)
	s.Overdue = st.NextRotationTime != nil && now.After(st.NextRotationTime.Time)
	if p := st.Pending; p != nil {
		s.Step, s.PendingRevision, s.Emergency = string(p.Step), p.Revision, p.Emergency
	}
	if rs.Spec.Rollout != nil {
		s.Stages = len(rs.Spec.Rollout.Stages)
	}
	// status.rollout stays after a rotation ends: progress is shown only for the rotation in progress.
	if r := st.Rollout; r != nil && st.Pending != nil && (r.Revision == st.Pending.Revision || r.RollingBack) {
		s.Stage, s.StagesDone, s.Workloads = r.Stage, len(r.CompletedStages), len(r.Workloads)
		for _, w := range r.Workloads {
			if w.Ready {
				s.WorkloadsReady++
			}
		}
	}
	for _, r := range st.Revocations {
		entry := fmt.Sprintf("r%d", r.Revision)
		if r.HumanRequired {
			entry += " (person)"
		}
		s.RevocationsPending = append(s.RevocationsPending, entry)
	}
	for _, ov := range st.Overrides {
		s.Overrides = append(s.Overrides, fmt.Sprintf("%s/%s[%s] until %s", ov.Kind, ov.Name, ov.Key, stamp(&ov.ExpiresAt)))
	}
	if c := meta.FindStatusCondition(st.Conditions, rotationv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		s.Stalled = c.Reason
	}
	if c := meta.FindStatusCondition(st.Conditions, rotationv1alpha1.ConditionReady); c != nil {
		s.Message = c.Message
	}
	return s
}

// nextRotation is when the next rotation starts as the operator plans it: its plan for a rotation already due
// (status.scheduled: window, notice, maxDelay), else status.nextRotationTime, which the operator already moved to
// the first maintenance window after the TTL.
func nextRotation(rs *rotationv1alpha1.RotatedSecret) (*metav1.Time, string) {
	st := rs.Status
	if sc := st.Scheduled; sc != nil {
		note := "scheduled"
		switch {
		case sc.WindowMissed:
			note = "no window before maxDelay"
		case sc.NoticeTime != nil:
			note = "notice given " + stamp(sc.NoticeTime)
		}
		return &sc.StartTime, note
	}
	if st.NextRotationTime == nil || rs.Spec.Schedule == nil || len(rs.Spec.Schedule.Windows) == 0 {
		return st.NextRotationTime, ""
	}
	sch, err := schedule.FromSpec(rs.Spec.Schedule)
	if err != nil {
		return st.NextRotationTime, "schedule invalid"
	}
	return st.NextRotationTime, "window " + sch.Describe()
}

// statusTable writes one line per RotatedSecret.
func statusTable(w io.Writer, items []Status, all bool) error {
	header := []string{"NAME", "REVISION", "AGE", "NEXT", "PHASE", "STEP", "STAGES", "WORKLOADS", "REVOCATIONS", "OVERRIDES", "FLAGS"}
	if all {
		header = append([]string{"NAMESPACE"}, header...)
	}
	rows := make([][]string, 0, len(items))
	for _, s := range items {
		next := "-"
		if s.NextRotation != nil {
			next = stamp(s.NextRotation)
		}
		step := "-"
		if s.Step != "" {
			step = fmt.Sprintf("%s r%d", s.Step, s.PendingRevision)
			if s.Emergency {
				step += " emergency"
			}
		}
		stages, workloads := "-", "-"
		if s.Stages > 0 {
			stages = fmt.Sprint(s.Stages) // no rotation in progress: how many there are
		}
		if s.Stages > 0 && s.Step != "" {
			stages = fmt.Sprintf("%d/%d", s.StagesDone, s.Stages)
			if s.Stage != "" {
				stages += " " + s.Stage
			}
		}
		if s.Workloads > 0 {
			workloads = fmt.Sprintf("%d/%d healthy", s.WorkloadsReady, s.Workloads)
		}
		row := []string{s.Name, fmt.Sprint(s.Revision), s.ValueAge, next, orDash(s.Phase), step, stages, workloads,
			orDash(strings.Join(s.RevocationsPending, ",")), fmt.Sprint(len(s.Overrides)), orDash(strings.Join(flags(s), ","))}
		if all {
			row = append([]string{s.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	return table(w, header, rows)
}

// flags are the warnings of a status line.
func flags(s Status) []string {
	var f []string
	if s.Overdue {
		f = append(f, "Overdue")
	}
	if s.Suspended {
		f = append(f, "Suspended")
	}
	if s.Stalled != "" {
		f = append(f, "Stalled:"+s.Stalled)
	}
	return f
}
