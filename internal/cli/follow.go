package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// follower prints a rotation's progress as the RotatedSecret's status changes, one line per change.
type follower struct {
	o   *Options
	req request
	// revision is the rotation the token started, once the operator handled the token (0 before).
	revision int64
	// shown is the last line printed per topic (waiting, step, stage, a Job), so nothing repeats.
	shown map[string]string
	// last is the last thing seen, for the timeout's message.
	last string
}

// follow watches the RotatedSecret until the rotation req started ends, or ctx ends (--timeout).
func (o *Options) follow(ctx context.Context, ns, name string, req request, timeout time.Duration) error {
	cl, err := o.Client()
	if err != nil {
		return err
	}
	f := &follower{o: o, req: req, shown: map[string]string{}, last: "the operator had not handled the token"}
	for {
		rs, err := o.get(ctx, ns, name)
		if err == nil {
			var done bool
			if done, err = f.observe(rs); done || err != nil {
				return err
			}
			err = f.watch(ctx, cl, rs)
		}
		if ctx.Err() != nil {
			return &ExitError{Code: ExitTimeout, Err: fmt.Errorf("timed out after %s: %s", timeout, f.last)}
		}
		var exit *ExitError
		if errors.As(err, &exit) || err == nil {
			return err
		}
		// A dropped watch or a failed read: read again after a moment (the next get says if it is lasting).
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// watch follows the RotatedSecret from rs's resourceVersion until the rotation ends (nil after printing the
// outcome, an ExitError for a failed one), or the watch ends (an error: the caller reads again).
func (f *follower) watch(ctx context.Context, cl client.WithWatch, rs *rotationv1alpha1.RotatedSecret) error {
	w, err := cl.Watch(ctx, &rotationv1alpha1.RotatedSecretList{}, &client.ListOptions{
		Namespace: rs.Namespace, FieldSelector: fields.OneTermEqualSelector("metadata.name", rs.Name),
		Raw: &metav1.ListOptions{ResourceVersion: rs.ResourceVersion},
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Deleted:
			return &ExitError{Code: 1, Err: fmt.Errorf("RotatedSecret %s/%s was deleted", rs.Namespace, rs.Name)}
		case watch.Added, watch.Modified:
			obj, ok := ev.Object.(*rotationv1alpha1.RotatedSecret)
			if !ok {
				continue
			}
			if done, err := f.observe(obj); done || err != nil {
				return err
			}
		}
	}
	return errors.New("watch closed")
}

// observe prints what changed in rs and says whether the rotation has ended; a failed ending is an ExitError.
func (f *follower) observe(rs *rotationv1alpha1.RotatedSecret) (bool, error) {
	st := &rs.Status
	if f.revision == 0 {
		handled := st.LastHandledRotateRequest
		if f.req.emergency {
			handled, _, _ = strings.Cut(st.LastHandledEmergencyRequest, " ")
		}
		if handled != f.req.token {
			f.waiting(rs)
			return false, nil
		}
		// The rotation the token started is the one in progress, or (a fast one) already in history.
		f.revision = newestRevision(rs)
		if st.Pending != nil {
			f.revision = st.Pending.Revision
		}
		f.say("start", fmt.Sprintf("revision %d started", f.revision))
	}
	if p := st.Pending; p != nil && p.Revision == f.revision {
		f.progress(st, p)
	}
	for _, h := range st.History {
		if h.Revision != f.revision || h.Outcome == rotationv1alpha1.OutcomeInProgress {
			continue
		}
		msg := fmt.Sprintf("revision %d %s", h.Revision, h.Outcome)
		if h.Message != "" {
			msg += ": " + h.Message
		}
		f.say("end", msg)
		if h.Outcome == rotationv1alpha1.OutcomeSucceeded {
			return true, nil
		}
		return true, &ExitError{Code: ExitRotationFailed, Err: errors.New(msg)}
	}
	return false, nil
}

// waiting prints why the token is not handled yet: a window, the notice, a dependency, a rollout slot, a stall.
func (f *follower) waiting(rs *rotationv1alpha1.RotatedSecret) {
	st := &rs.Status
	if sc := st.Scheduled; sc != nil {
		f.say("scheduled", fmt.Sprintf("scheduled to start at %s", stamp(&sc.StartTime)))
	}
	for _, t := range []string{rotationv1alpha1.ConditionRotationScheduled, rotationv1alpha1.ConditionStalled} {
		if c := meta.FindStatusCondition(st.Conditions, t); c != nil && c.Status == metav1.ConditionTrue {
			f.say("wait-"+t, fmt.Sprintf("%s: %s", c.Reason, c.Message))
		}
	}
	if q, _, _ := strings.Cut(st.QueuedEmergencyRequest, " "); f.req.emergency && q == f.req.token {
		f.say("queued", "queued: another emergency is in progress; this one starts when it ends")
	} else if p := st.Pending; p != nil {
		f.say("busy", fmt.Sprintf("waiting for revision %d (%s) to end first", p.Revision, p.Step))
	}
}

// progress prints the step, the stage with its workloads, and the Jobs of the rotation in progress.
func (f *follower) progress(st *rotationv1alpha1.RotatedSecretStatus, p *rotationv1alpha1.PendingRotation) {
	// The step's message is shown once, with the first step that carries it.
	step := string(p.Step)
	if p.Message != "" && p.Message != f.shown["step-message"] {
		f.shown["step-message"] = p.Message
		step += ": " + p.Message
	}
	if !strings.HasPrefix(f.shown["step"], string(p.Step)) {
		f.say("step", step)
	}
	// status.rollout of an earlier rotation stays until the next one starts its own.
	if r := st.Rollout; r != nil && (r.Revision == p.Revision || r.RollingBack) {
		verb := "stage"
		if r.RollingBack {
			verb = "rolling back, stage"
		}
		// A stage that became healthy is done in the same status write that starts the next one: its line comes
		// from completedStages.
		for _, done := range r.CompletedStages {
			f.say(verb+"/"+done, fmt.Sprintf("%s %s healthy", verb, done))
		}
		if r.Stage != "" {
			line := fmt.Sprintf("%s %s started", verb, r.Stage)
			if len(r.Workloads) > 0 {
				ready := 0
				for _, w := range r.Workloads {
					if w.Ready {
						ready++
					}
				}
				line = fmt.Sprintf("%s %s: %d/%d workloads healthy", verb, r.Stage, ready, len(r.Workloads))
			}
			f.say("stage", line)
		}
	}
	for _, jobs := range []struct {
		kind string
		st   *rotationv1alpha1.ValidationStatus
	}{{"validation", st.Validation}, {"post-rotation", st.PostRotation}, {"purge", st.PurgeJobs}} {
		if jobs.st == nil || jobs.st.Revision != p.Revision {
			continue
		}
		for _, j := range jobs.st.Jobs {
			f.say(jobs.kind+"/"+j.Name, fmt.Sprintf("%s Job %s (%s): %s", jobs.kind, j.Name, j.JobName, j.Result))
		}
	}
}

// say prints line under topic unless it is what the topic showed last.
func (f *follower) say(topic, line string) {
	f.last = line
	if f.shown[topic] == line {
		return
	}
	f.shown[topic] = line
	fmt.Fprintf(f.o.Out, "%s  %s\n", f.o.Now().UTC().Format("15:04:05"), line)
}
