package version

import (
	"runtime/debug"
	"testing"

	. "github.com/onsi/gomega"
)

func TestFromBuildInfoReadsTheModuleVersionAndTheCommit(t *testing.T) {
	g := NewWithT(t)
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/tribi/secret-rotator", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "80ebc98d"}, {Key: "vcs.time", Value: "2026-11-30T05:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	info := FromBuildInfo("manager", bi)
	g.Expect(info).To(Equal(Info{Binary: "manager", Module: "github.com/tribi/secret-rotator", Version: "v0.3.0",
		Commit: "80ebc98d", CommitTime: "2026-11-30T05:00:00Z", Modified: true, GoVersion: "go1.26.8"}))
	g.Expect(info.String()).To(Equal("manager github.com/tribi/secret-rotator v0.3.0 commit 80ebc98d (modified) go1.26.8"))

	// A build outside a checkout has neither a commit nor a version.
	bare := FromBuildInfo("kubectl-rotation", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "m"}})
	g.Expect(bare.String()).To(Equal("kubectl-rotation m (devel) go1.26.8"))
}
