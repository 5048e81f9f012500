package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// request is a rotate or emergency token the plugin set, and what it follows.
type request struct {
	emergency bool
	token     string
	// baseline is the newest revision the RotatedSecret knew before the token was set: the rotation the token
	// starts has a higher one.
	baseline int64
}

// waitFlags are --wait and --timeout.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (f *waitFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.wait, "wait", false, "Follow the rotation (steps, stages, Jobs) until it ends: exit 0 if it "+
		"succeeded, 2 if it rolled back, halted, failed or was discarded, 3 on --timeout")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 15*time.Minute, "How long --wait follows the rotation")
}

func newRotateCommand(o *Options) *cobra.Command {
	var wf waitFlags
	var respectWindow bool
	cmd := &cobra.Command{
		Use:   "rotate NAME",
		Short: "Ask for a rotation now (a fresh rotation.tribi.io/rotate token)",
		Long: "rotate sets a fresh rotation.tribi.io/rotate token on the RotatedSecret; the operator starts exactly one " +
			"rotation for it. With --respect-window the rotation waits for the next maintenance window and gives " +
			"notice like a TTL rotation.",
		Example: "  kubectl rotation rotate jwt-secret -n backend --wait\n" +
			"  kubectl rotation rotate stripe-secret-key -n payments --respect-window",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			annotations := map[string]any{rotationv1alpha1.RotateAnnotation: nil, rotationv1alpha1.RespectWindowAnnotation: nil}
			if respectWindow {
				annotations[rotationv1alpha1.RespectWindowAnnotation] = "true"
			}
			return o.request(cmd.Context(), args[0], false, annotations, wf)
		},
	}
	cmd.Flags().BoolVar(&respectWindow, "respect-window", false, "Wait for the next maintenance window and the notice, like a TTL rotation")
	wf.add(cmd)
	return cmd
}

func newEmergencyCommand(o *Options) *cobra.Command {
	var wf waitFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "emergency NAME --reason TEXT",
		Short: "Start an emergency rotation: the value in service is compromised",
		Long: "emergency sets a fresh rotation.tribi.io/emergency token with your reason. The operator discards any " +
			"rotation in progress, marks the value in service compromised (it is never written again), revokes it as " +
			"spec.emergency says, applies the overrides and runs the purge Jobs (docs/emergency.md). The reason goes " +
			"into the history and the incident record: `kubectl rotation incident NAME` writes the review from it.",
		Example: "  kubectl rotation emergency jwt-secret -n backend --reason \"JWT_SECRET leaked in CI logs\" --wait",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reason = strings.Join(strings.Fields(reason), " ")
			if reason == "" {
				return fmt.Errorf("--reason is required: say why the value is compromised (it goes into the incident record)")
			}
			return o.request(cmd.Context(), args[0], true, map[string]any{rotationv1alpha1.EmergencyAnnotation: reason}, wf)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "Why the value is compromised (required; at most 256 characters are kept)")
	wf.add(cmd)
	return cmd
}

// request sets a fresh token with annotations on the RotatedSecret NAME (the rotate token, or the emergency
// token before its reason), and follows the rotation it starts with --wait.
func (o *Options) request(ctx context.Context, name string, emergency bool, annotations map[string]any, wf waitFlags) error {
	ns, err := o.Namespace()
	if err != nil {
		return err
	}
	rs, err := o.get(ctx, ns, name)
	if err != nil {
		return err
	}
	req := request{emergency: emergency, token: o.Now().UTC().Format("20060102T150405.000000000Z"), baseline: newestRevision(rs)}
	if emergency {
		annotations[rotationv1alpha1.EmergencyAnnotation] = req.token + " " + annotations[rotationv1alpha1.EmergencyAnnotation].(string)
	} else {
		annotations[rotationv1alpha1.RotateAnnotation] = req.token
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	cl, err := o.Client()
	if err != nil {
		return err
	}
	if err := cl.Patch(ctx, rs, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(o.fieldManager(ctx))); err != nil {
		return fmt.Errorf("setting the token on RotatedSecret %s/%s: %w", ns, name, err)
	}
	what := "a rotation"
	if emergency {
		what = "an emergency rotation"
	}
	fmt.Fprintf(o.Out, "Asked for %s of %s/%s (token %s)\n", what, ns, name, req.token)
	if !wf.wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wf.timeout)
	defer cancel()
	return o.follow(ctx, ns, name, req, wf.timeout)
}

// newestRevision is the highest revision rs knows: in service, pending, or in history.
func newestRevision(rs *rotationv1alpha1.RotatedSecret) int64 {
	n := rs.Status.CurrentRevision
	if p := rs.Status.Pending; p != nil && p.Revision > n {
		n = p.Revision
	}
	for _, h := range rs.Status.History {
		if h.Revision > n {
			n = h.Revision
		}
	}
	return n
}

// fieldManager names the person in the patch's field manager, "kubectl-rotation/<user>", so the operator's incident
// record (requestedBy, read from managedFields) says who asked. The user comes from a SelfSubjectReview, which
// every authenticated user may create; if it fails the manager is plain "kubectl-rotation".
func (o *Options) fieldManager(ctx context.Context) string {
	const plugin = "kubectl-rotation"
	cl, err := o.Client()
	if err != nil {
		return plugin
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := cl.Create(ctx, review); err != nil || review.Status.UserInfo.Username == "" {
		return plugin
	}
	manager := plugin + "/" + strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, review.Status.UserInfo.Username)
	// The API server refuses a field manager longer than 128 characters.
	return manager[:min(len(manager), 128)]
}
