package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tribi/secret-rotator/internal/version"
)

func newVersionCommand(o *Options) *cobra.Command {
	var out output
	return withOutput(&cobra.Command{
		Use:   "version",
		Short: "The module version and commit this plugin was built from (the manager has --version)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := version.Get("kubectl-rotation")
			return out.print(o.Out, info, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, info)
				return err
			})
		},
	}, &out, "one line")
}

// withOutput adds -o to cmd and returns it.
func withOutput(cmd *cobra.Command, out *output, what string) *cobra.Command {
	out.addFlag(cmd, what)
	return cmd
}
