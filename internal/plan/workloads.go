package plan

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/notify"
	"github.com/tribi/secret-rotator/internal/policy"
	"github.com/tribi/secret-rotator/internal/rollout"
	"github.com/tribi/secret-rotator/internal/specs"
	"github.com/tribi/secret-rotator/internal/tenancy"
)

// stages resolves every stage as the operator will (rollout.Resolve: named workloads, then the selector's, in the
// RotatedSecret's namespace) and reads each workload's health as the operator judges it (rollout.Health).
func (b *builder) stages(ctx context.Context) error {
	ro := b.rs.Spec.Rollout
	if ro == nil {
		return nil
	}
	key := rollout.AnnotationKey(b.rs.Name)
	for _, stage := range ro.Stages {
		st := Stage{Name: stage.Name, Timeout: string(specs.StageTimeout(stage)), Workloads: []Workload{}}
		if stage.Selector != nil {
			st.Selector = metav1.FormatLabelSelector(stage.Selector)
		}
		resolved, err := rollout.Resolve(ctx, b.in.Client, b.rs.Namespace, stage)
		if err != nil {
			b.note("stage %s could not be resolved: %v", stage.Name, err)
		}
		for _, w := range resolved {
			b.workloads = append(b.workloads, w)
			if _, ok := b.stageOf[tenancy.WorkloadAction(w)]; !ok {
				b.stageOf[tenancy.WorkloadAction(w)] = stage.Name
			}
			ws := Workload{Kind: string(w.Kind), Namespace: w.Namespace, Name: w.Name, Health: Missing, Message: "not found"}
			if w.Object != nil {
				h := rollout.Health(w.Object)
				ws.Ready, ws.Desired = rollout.Replicas(w.Object)
				ws.Revision, _ = rollout.TemplateRevision(w.Object, key)
				ws.Message = h.Message
				switch {
				case h.Failed:
					ws.Health = Failed
				case h.Paused:
					ws.Health = Paused
				case h.Ready:
					ws.Health = Healthy
				default:
					ws.Health = Progressing
				}
			}
			switch ws.Health {
			case Missing, Failed, Paused:
				b.note("stage %s: %s %s/%s is %s (%s): the stage would wait for it until its timeout of %s, then the "+
					"rotation fails (onFailure: %s)", stage.Name, w.Kind, w.Namespace, w.Name, ws.Health, ws.Message,
					st.Timeout, specs.OnFailure(b.rs))
			}
			st.Workloads = append(st.Workloads, ws)
		}
		b.r.Stages = append(b.r.Stages, st)
	}
	return nil
}

// jobs lists the Jobs the rotation would create, by the operator's names for the next revision, and who runs them.
func (b *builder) jobs(ctx context.Context) error {
	rev := b.r.NextRevision
	for _, set := range specs.JobSets(b.rs) {
		kind, when := "validation", "after the last stage, before the commit; a failure rolls back or halts (onFailure: "+
			string(specs.OnFailure(b.rs))+")"
		switch set.Field {
		case "spec.postRotation":
			kind, when = "post-rotation", "after the commit; a failure warns and never rolls back"
		case "spec.emergency":
			kind, when = "purge", "after an emergency's commit only; never rolls back"
			if len(set.Jobs) > 0 {
				// Not in the operator's pre-flight: asked of RBAC when an emergency creates them.
				b.want(tenancy.JobAction(b.rs.Namespace), "emergency purge Jobs", false)
			}
		}
		for _, j := range set.Jobs {
			job := Job{Kind: kind, Name: j.Name, JobName: set.Name(b.rs.Name, j.Name, rev),
				ServiceAccount: specs.JobServiceAccount(j), CreatedAs: b.actor.String(), When: when}
			if kind == "purge" && job.ServiceAccount != b.actor.ServiceAccount {
				b.want(tenancy.TokenAction(b.rs.Namespace, job.ServiceAccount), "emergency purge Jobs run as "+job.ServiceAccount, false)
			}
			var existing batchv1.Job
			switch err := b.in.Client.Get(ctx, client.ObjectKey{Namespace: b.rs.Namespace, Name: job.JobName}, &existing); {
			case err == nil && !metav1.IsControlledBy(&existing, b.rs):
				job.Conflict = fmt.Sprintf("Job %s exists and does not belong to this RotatedSecret: the %s fails", job.JobName, kind)
				b.note("%s", job.Conflict)
			case err != nil && !apierrors.IsNotFound(err):
				b.note("Job %s could not be read: %v", job.JobName, err)
			}
			b.r.Jobs = append(b.r.Jobs, job)
		}
	}
	if len(b.r.Jobs) > 0 {
		b.note("the Job templates were not sent to the API server: the operator checks them with a server-side dry run " +
			"(a create request, which the plan never makes) when the spec changes, and stalls with InvalidSpec on a refusal")
	}
	return nil
}

// dependencies reads each RotatedSecret of spec.dependsOn and asks policy.DependencyDone, as the operator's when
// phase does, whether it holds the next rotation.
func (b *builder) dependencies(ctx context.Context) error {
	for _, d := range b.rs.Spec.DependsOn {
		key := specs.DependencyKey(b.rs, d)
		ns, name := splitKey(key)
		b.want(tenancy.Action{Verb: "get", Group: rotationv1alpha1.GroupVersion.Group, Resource: "rotatedsecrets",
			Namespace: ns, Name: name}, "dependency "+key, false)
		dep := Dependency{RotatedSecret: key}
		var obj rotationv1alpha1.RotatedSecret
		err := b.in.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &obj)
		switch {
		case apierrors.IsNotFound(err):
			dep.Message = fmt.Sprintf("Waiting for dependency %s does not exist", key)
			b.r.Dependencies = append(b.r.Dependencies, dep)
			continue
		case err != nil:
			dep.Message = fmt.Sprintf("could not be read: %v", err)
			b.r.Dependencies = append(b.r.Dependencies, dep)
			continue
		}
		dep.Exists, dep.Phase, dep.CurrentRevision = true, string(obj.Status.Phase), obj.Status.CurrentRevision
		if c := conditions.Get(&obj, rotationv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
			dep.Ready = true
		}
		switch {
		case !b.valid:
			dep.Message = "not computed: the spec is invalid"
		case b.r.Schedule.Trigger == "":
			dep.Message = "no rotation is upcoming"
		case b.due.IsZero():
			dep.Satisfied, dep.Message = true, "the next rotation does not wait for dependencies"
		default:
			until, why := policy.DependencyDone(&obj, b.due, b.now, b.parsed.Soak)
			dep.Satisfied = why == ""
			if !until.IsZero() {
				dep.Until = timePtr(until)
			}
			if why != "" {
				dep.Message = fmt.Sprintf("Waiting for dependency %s %s", key, why)
			}
		}
		b.r.Dependencies = append(b.r.Dependencies, dep)
	}
	return nil
}

// notifications lists the webhooks and checks each URL as the operator will before sending (notify.CheckURL and
// --http-allowed-hosts), without showing it. A failing notification never holds a rotation.
func (b *builder) notifications(ctx context.Context) error {
	for i, n := range b.rs.Spec.Notify {
		ref := n.Webhook.URLSecretRef
		out := Notification{Sink: i, Format: string(n.Format), URLSecret: ref.Name + "/" + ref.Key}
		if out.Format == "" {
			out.Format = string(rotationv1alpha1.NotifyJSON)
		}
		for _, e := range n.On {
			out.Events = append(out.Events, string(e))
		}
		if len(out.Events) == 0 {
			for _, e := range notify.Events() {
				out.Events = append(out.Events, string(e))
			}
		}
		b.want(secretRead(b.rs.Namespace, ref.Name), fmt.Sprintf("webhook URL of spec.notify[%d]", i), false)
		out.URLCheck = b.checkURL(ctx, ref)
		b.r.Notifications = append(b.r.Notifications, out)
	}
	return nil
}

// checkURL reads a webhook URL as the person and says whether the operator would call it: "ok", or why not.
func (b *builder) checkURL(ctx context.Context, ref rotationv1alpha1.SecretKeyRef) string {
	var sec corev1.Secret
	if err := b.in.Client.Get(ctx, client.ObjectKey{Namespace: b.rs.Namespace, Name: ref.Name}, &sec); err != nil {
		return fmt.Sprintf("not checked: Secret %s could not be read (%v)", ref.Name, apierrors.ReasonForError(err))
	}
	url, ok := sec.Data[ref.Key]
	if !ok {
		return fmt.Sprintf("Secret %s has no key %s: the notification would fail", ref.Name, ref.Key)
	}
	if err := notify.CheckURL(string(url)); err != nil {
		return err.Error()
	}
	if err := b.in.Settings.HTTPAllowedHosts.Check(string(url)); err != nil {
		return err.Error()
	}
	return "ok"
}

func splitKey(key string) (string, string) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
