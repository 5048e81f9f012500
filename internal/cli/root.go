// Package cli is `kubectl rotation`, the kubectl plugin for the people on call: it reads RotatedSecrets and their
// status, asks for rotations and emergencies with the operator's annotations, follows them, plans them, writes the
// post-incident review and checks that every copy of a value is the current one. It acts with the person's own
// kubeconfig and RBAC; it never reads a value except to fingerprint it (`fingerprint`), and never prints one.
package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
)

// Exit codes of the plugin besides 0 (success) and 1 (an error: refused, not found, bad flags).
const (
	// ExitRotationFailed: a followed rotation ended RolledBack, Halted, Failed or Discarded.
	ExitRotationFailed = 2
	// ExitTimeout: --timeout ran out before a followed rotation ended.
	ExitTimeout = 3
	// ExitMismatch: `fingerprint` found a copy that does not hold the current value.
	ExitMismatch = 4
)

// ExitError carries the exit code a command asks for; main prints Err and exits with Code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the exit code for err: 0 for nil, the ExitError's code, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return 1
}

// Options are shared by every command: the streams, the usual kubectl connection flags and the clock.
type Options struct {
	genericiooptions.IOStreams
	// Flags are kubectl's --kubeconfig, --context, --namespace, --as... flags.
	Flags *genericclioptions.ConfigFlags
	// Now is the clock (time.Now; tests fix it).
	Now func() time.Time
	// OperatorNamespace is where the operator keeps its fingerprint key (--operator-namespace).
	OperatorNamespace string

	cl  client.WithWatch
	cfg *rest.Config
}

// NewCommand returns the root command `kubectl rotation` with every subcommand.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams, Flags: genericclioptions.NewConfigFlags(true), Now: time.Now}
	root := &cobra.Command{
		Use:   "kubectl-rotation",
		Short: "Drive and inspect secret-rotator's RotatedSecrets",
		Long: "kubectl rotation reads RotatedSecrets and asks the secret-rotator operator for rotations and emergencies.\n" +
			"It acts with your kubeconfig and RBAC, and never prints a secret value.\n\n" +
			"Exit codes: 0 success; 1 error; 2 a followed rotation ended RolledBack, Halted, Failed or Discarded;\n" +
			"3 --timeout ran out; 4 `fingerprint` found a copy that is not the current value.",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl rotation"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	o.Flags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&o.OperatorNamespace, "operator-namespace", "secret-rotator-system",
		"Namespace of the operator (its fingerprint key lives there)")
	root.AddCommand(newStatusCommand(o), newHistoryCommand(o), newRotateCommand(o), newEmergencyCommand(o),
		newPlanCommand(o), newIncidentCommand(o), newFingerprintCommand(o), newVersionCommand(o))
	return root
}

// Scheme is the plugin's scheme: client-go's types and rotation.tribi.io/v1alpha1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(rotationv1alpha1.AddToScheme(s))
	return s
}

// Client returns a client (no cache, with watch) for the flags' cluster and user, built once.
func (o *Options) Client() (client.WithWatch, error) {
	if o.cl != nil {
		return o.cl, nil
	}
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	o.cl = cl
	return cl, nil
}

// RESTConfig returns the flags' client configuration.
func (o *Options) RESTConfig() (*rest.Config, error) {
	if o.cfg != nil {
		return o.cfg, nil
	}
	cfg, err := o.Flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	o.cfg = cfg
	return cfg, nil
}

// Namespace is --namespace, or the kubeconfig context's namespace, or "default".
func (o *Options) Namespace() (string, error) {
	ns, _, err := o.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace from kubeconfig: %w", err)
	}
	return ns, nil
}
