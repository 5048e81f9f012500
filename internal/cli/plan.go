package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tribi/secret-rotator/internal/app"
	"github.com/tribi/secret-rotator/internal/egress"
	"github.com/tribi/secret-rotator/internal/plan"
)

func newPlanCommand(o *Options) *cobra.Command {
	var out output
	s := plan.DefaultSettings()
	var protected, watch, allowedHosts string
	cmd := &cobra.Command{
		Use:   "plan NAME",
		Short: "A dry run of the next rotation against the live cluster: what it would write, restart, run, and what would refuse it",
		Long: "plan reads the RotatedSecret and what it names (targets, workloads, Jobs, dependencies, notifications) as " +
			"you, and asks RBAC what the operator could do as the RotatedSecret's ServiceAccount (impersonating it, or " +
			"with access reviews). It changes nothing. It applies the operator's own rules (internal/plan), so a refusal " +
			"it lists carries the reason and message the operator would stall with.\n\n" +
			"The operator's flags cannot be read from the cluster: pass the ones your install sets, with the operator's " +
			"names and defaults (config/default sets --default-service-account=secret-rotator).",
		Example: "  kubectl rotation plan jwt-secret -n backend --default-service-account secret-rotator",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, err := o.begin(&out)
			if err != nil {
				return err
			}
			cl, err := o.Client()
			if err != nil {
				return err
			}
			cfg, err := o.RESTConfig()
			if err != nil {
				return err
			}
			if s.HTTPAllowedHosts, err = egress.Parse(allowedHosts); err != nil {
				return err
			}
			s.ProtectedNamespaces, s.WatchNamespaces, s.OperatorNamespace = app.SplitList(protected), app.SplitList(watch), o.OperatorNamespace
			report, err := plan.Build(cmd.Context(), plan.Input{Client: cl, Config: cfg, Namespace: ns, Name: args[0], Settings: s})
			if err != nil {
				return err
			}
			return out.print(o.Out, report, report.WriteText)
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.DefaultServiceAccount, "default-service-account", s.DefaultServiceAccount,
		"The operator's --default-service-account (config/default: secret-rotator)")
	f.StringVar(&protected, "protected-namespaces", strings.Join(s.ProtectedNamespaces, ","), "The operator's --protected-namespaces")
	f.BoolVar(&s.NoCrossNamespaceRefs, "no-cross-namespace-refs", s.NoCrossNamespaceRefs, "The operator's --no-cross-namespace-refs")
	f.StringVar(&allowedHosts, strings.TrimPrefix(egress.Flag, "--"), "", "The operator's "+egress.Flag)
	f.StringVar(&watch, "watch-namespaces", "", "The operator's --watch-namespaces")
	out.addFlag(cmd, "text")
	return cmd
}
