// Package version says what a binary was built from: the module version and the commit, read from the build
// information the Go toolchain embeds (`go build` inside a git checkout records vcs.revision and vcs.modified;
// `go install module@version` records the module version).
package version

import (
	"fmt"
	"runtime/debug"
)

// Info is what a binary was built from.
type Info struct {
	// Binary is the program's name (manager, kubectl-rotation).
	Binary string `json:"binary"`
	// Module is the main module's path.
	Module string `json:"module"`
	// Version is the module version: a tag for `go install module@vX`, "(devel)" for a build in a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision of a build in a checkout; empty otherwise.
	Commit string `json:"commit,omitempty"`
	// CommitTime is the commit's time, RFC 3339.
	CommitTime string `json:"commitTime,omitempty"`
	// Modified is true when the checkout had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// Get returns the build information of the running binary.
func Get(binary string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Binary: binary, Version: "unknown"}
	}
	return FromBuildInfo(binary, bi)
}

// FromBuildInfo extracts Info from bi.
func FromBuildInfo(binary string, bi *debug.BuildInfo) Info {
	info := Info{Binary: binary, Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.CommitTime = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line form: "kubectl-rotation github.com/tribi/secret-rotator (devel) commit 80ebc98... (modified) go1.26.8".
func (i Info) String() string {
	s := fmt.Sprintf("%s %s %s", i.Binary, i.Module, i.Version)
	if i.Commit != "" {
		s += " commit " + i.Commit
		if i.Modified {
			s += " (modified)"
		}
	}
	return s + " " + i.GoVersion
}
