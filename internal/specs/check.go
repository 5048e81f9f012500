package specs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/provider"
	"github.com/tribi/secret-rotator/internal/schedule"
	"github.com/tribi/secret-rotator/internal/staging"
)

// MinStepTimeout is the shortest stage or Job timeout: less cannot see a rollout through.
const MinStepTimeout = time.Minute

// MaxJobName keeps Job names usable as label values (the Job controller labels pods with them).
const MaxJobName = 63

// outputName is what an output may be called: it becomes part of a staging Secret key ("r<revision>.<output>").
var outputName = regexp.MustCompile(`^[a-zA-Z0-9_]{1,63}$`)

// When is spec.schedule, spec.notice and spec.dependsOnSoak, parsed.
type When struct {
	// Schedule is spec.schedule; the zero Schedule (no windows) is always open.
	Schedule schedule.Schedule
	// Notice is spec.notice; 0 gives none.
	Notice time.Duration
	// Soak is spec.dependsOnSoak (default 1h).
	Soak time.Duration
}

// Parsed is what Check read from a spec.
type Parsed struct {
	When
	// TTL is spec.ttl.
	TTL time.Duration
	// Grace is spec.previous.gracePeriod; 0 when previous values are not kept.
	Grace time.Duration
	// Provider is the provider of spec.provider.
	Provider provider.Provider
}

// Check parses rs's spec and finds what the CRD schema cannot: a duration that does not parse, a provider this
// operator lacks or refuses (for the http provider, a host --http-allowed-hosts does not list), a target reading
// an output the provider does not have, two targets naming the same key, a stage or Job timeout under a minute, a
// selector that does not parse, a workload name that is no DNS name, a Job name too long or a Job template setting
// what the operator sets. The error is the InvalidSpec message, naming the field. It does not look at other
// objects: dependency cycles, override targets and the server-side dry run of Job templates are the caller's.
func Check(rs *rotationv1alpha1.RotatedSecret, providers provider.Registry) (Parsed, error) {
	spec := rs.Spec
	var p Parsed
	var err error
	if p.TTL, err = spec.TTL.Parse(); err != nil {
		return p, fmt.Errorf("spec.ttl: %w", err)
	}
	if p.When, err = ParseWhen(spec); err != nil {
		return p, err
	}
	if KeepPrevious(rs) {
		if p.Grace, err = GracePeriod(rs).Parse(); err != nil {
			return p, fmt.Errorf("spec.previous.gracePeriod: %w", err)
		}
	}
	if p.Provider, err = providers.For(spec.Provider); err != nil {
		return p, fmt.Errorf("spec.provider: %w", err)
	}
	if err := p.Provider.Check(spec.Provider); err != nil {
		return p, err
	}
	if err := checkTargets(rs, p.Provider.Outputs(spec.Provider)); err != nil {
		return p, err
	}
	if err := CheckRollout(spec.Rollout); err != nil {
		return p, err
	}
	return p, CheckJobs(rs)
}

// ParseWhen parses spec.schedule, spec.notice and spec.dependsOnSoak.
func ParseWhen(spec rotationv1alpha1.RotatedSecretSpec) (When, error) {
	w := When{Soak: time.Hour}
	var err error
	if w.Schedule, err = schedule.FromSpec(spec.Schedule); err != nil {
		return w, err
	}
	if spec.Notice != "" {
		if w.Notice, err = spec.Notice.Parse(); err != nil {
			return w, fmt.Errorf("spec.notice: %w", err)
		}
	}
	if spec.DependsOnSoak != "" {
		if w.Soak, err = spec.DependsOnSoak.Parse(); err != nil {
			return w, fmt.Errorf("spec.dependsOnSoak: %w", err)
		}
	}
	return w, nil
}

// checkTargets checks that output names can be staging keys, every target reads an output the provider has, and
// no two targets name the same key or GitHub secret.
func checkTargets(rs *rotationv1alpha1.RotatedSecret, outputs []string) error {
	for _, name := range outputs {
		if !outputName.MatchString(name) {
			return fmt.Errorf("spec.provider: output %q cannot be a Secret key here: use 1 to 63 letters, digits or _", name)
		}
	}
	seen := map[string]bool{}
	for i, t := range rs.Spec.Targets {
		if !slices.Contains(outputs, TargetOutput(t)) {
			// Caught before any vendor call: a credential minted for an output nobody can write would be lost.
			return fmt.Errorf("spec.targets[%d].from: the provider has no output %q (it has: %s)",
				i, TargetOutput(t), strings.Join(outputs, ", "))
		}
		ns := TargetNamespace(rs, t)
		id, what := ns+"/"+t.SecretName+"/"+t.Key, fmt.Sprintf("key %s of Secret %s/%s", t.Key, ns, t.SecretName)
		if t.GitHubActions != nil {
			id, what = MirrorID(*t.GitHubActions), "GitHub secret "+MirrorID(*t.GitHubActions)
		}
		if seen[id] {
			return fmt.Errorf("spec.targets[%d]: %s is already a target", i, what)
		}
		seen[id] = true
	}
	return nil
}

// CheckRollout checks the stages: timeouts, selectors and workload references.
func CheckRollout(ro *rotationv1alpha1.RolloutSpec) error {
	if ro == nil {
		return nil
	}
	for i, stage := range ro.Stages {
		field := fmt.Sprintf("spec.rollout.stages[%d]", i)
		if msg := CheckTimeout(StageTimeout(stage)); msg != "" {
			return fmt.Errorf("%s.timeout: %s", field, msg)
		}
		if stage.Selector != nil {
			if _, err := metav1.LabelSelectorAsSelector(stage.Selector); err != nil {
				return fmt.Errorf("%s.selector: %w", field, err)
			}
		}
		for j, w := range stage.Workloads {
			if errs := validation.IsDNS1123Subdomain(w.Name); len(errs) > 0 {
				return fmt.Errorf("%s.workloads[%d].name: %s", field, j, strings.Join(errs, "; "))
			}
			if errs := validation.IsDNS1123Label(w.Namespace); w.Namespace != "" && len(errs) > 0 {
				return fmt.Errorf("%s.workloads[%d].namespace: %s", field, j, strings.Join(errs, "; "))
			}
		}
	}
	return nil
}

// JobSet is one kind of Job a RotatedSecret runs: validation, post-rotation or an emergency's purge Jobs.
type JobSet struct {
	// Field is where the spec declares them ("spec.validation").
	Field string
	// TimeoutField names the timeout's field ("spec.validation.timeout").
	TimeoutField string
	// Jobs are the spec's Jobs; Timeout is for all of them.
	Jobs    []rotationv1alpha1.ValidationJob
	Timeout rotationv1alpha1.Duration
	// Name names the Job of a job for a revision.
	Name func(rsName, job string, rev int64) string
}

// JobSets are the Job sets rs declares, in the order the operator checks them: validation, post-rotation, purge.
func JobSets(rs *rotationv1alpha1.RotatedSecret) []JobSet {
	var sets []JobSet
	if v := rs.Spec.Validation; v != nil {
		sets = append(sets, JobSet{Field: "spec.validation", TimeoutField: "spec.validation.timeout", Jobs: v.Jobs,
			Timeout: ValidationTimeout(v), Name: ValidationJobName})
	}
	if pr := rs.Spec.PostRotation; pr != nil {
		sets = append(sets, JobSet{Field: "spec.postRotation", TimeoutField: "spec.postRotation.timeout", Jobs: pr.Jobs,
			Timeout: PostRotationTimeout(pr), Name: PostJobName})
	}
	if e := rs.Spec.Emergency; e != nil {
		sets = append(sets, JobSet{Field: "spec.emergency", TimeoutField: "spec.emergency.jobsTimeout", Jobs: e.Jobs,
			Timeout: PurgeTimeout(e), Name: PurgeJobName})
	}
	return sets
}

// CheckJobs checks every Job set: the timeout, names that fit in MaxJobName with room for a seven-digit
// revision, and templates that leave name, namespace and owner to the operator.
func CheckJobs(rs *rotationv1alpha1.RotatedSecret) error {
	rev := NextRevision(rs.Status)
	for _, set := range JobSets(rs) {
		if msg := CheckTimeout(set.Timeout); msg != "" {
			return fmt.Errorf("%s: %s", set.TimeoutField, msg)
		}
		for i, j := range set.Jobs {
			if n := set.Name(rs.Name, j.Name, rev+999999); len(n) > MaxJobName {
				return fmt.Errorf("%s.jobs[%d]: Job names like %s would exceed %d characters; shorten the job name",
					set.Field, i, n, MaxJobName)
			}
			m := j.Template.ObjectMeta
			if m.Name != "" || m.GenerateName != "" || m.Namespace != "" || len(m.OwnerReferences) > 0 {
				return fmt.Errorf("%s.jobs[%d].template.metadata: name, generateName, namespace and "+
					"ownerReferences are set by the operator; remove them", set.Field, i)
			}
		}
	}
	return nil
}

// CheckTimeout says what is wrong with a stage or Job timeout, "" when nothing is.
func CheckTimeout(d rotationv1alpha1.Duration) string {
	t, err := d.Parse()
	switch {
	case err != nil:
		return err.Error()
	case t < MinStepTimeout:
		return fmt.Sprintf("%q is under %s", d, MinStepTimeout)
	}
	return ""
}

// MaxDependencyDepth bounds the walk that looks for a dependency cycle.
const MaxDependencyDepth = 32

// DependencyKey names a dependency of rs as "<namespace>/<name>".
func DependencyKey(rs *rotationv1alpha1.RotatedSecret, d rotationv1alpha1.DependencyRef) string {
	ns := d.Namespace
	if ns == "" {
		ns = rs.Namespace
	}
	return ns + "/" + d.Name
}

// DependencyCycle follows spec.dependsOn, reading each RotatedSecret with get (nil when it cannot be read), and
// returns the cycle back to rs ("a -> b -> a"), "" when there is none. A dependency that does not exist yet ends
// its path.
func DependencyCycle(rs *rotationv1alpha1.RotatedSecret, get func(namespace, name string) *rotationv1alpha1.RotatedSecret) string {
	self := rs.Namespace + "/" + rs.Name
	var walk func(obj *rotationv1alpha1.RotatedSecret, path []string) string
	walk = func(obj *rotationv1alpha1.RotatedSecret, path []string) string {
		if len(path) > MaxDependencyDepth {
			return ""
		}
		for _, d := range obj.Spec.DependsOn {
			key := DependencyKey(obj, d)
			if key == self {
				return strings.Join(append(path, key), " -> ")
			}
			ns, name, _ := strings.Cut(key, "/")
			next := get(ns, name)
			if next == nil {
				continue
			}
			if c := walk(next, append(path, key)); c != "" {
				return c
			}
		}
		return ""
	}
	return walk(rs, []string{self})
}

// OverrideRef returns the kind and name of the object an emergency override changes ("" when it names none).
func OverrideRef(o rotationv1alpha1.Override) (rotationv1alpha1.OverrideKind, string) {
	switch {
	case o.SecretRef != nil:
		return rotationv1alpha1.OverrideSecret, o.SecretRef.Name
	case o.ConfigMapRef != nil:
		return rotationv1alpha1.OverrideConfigMap, o.ConfigMapRef.Name
	}
	return "", ""
}

// CheckOverrides checks spec.emergency.overrides: one object each, a positive duration, each key once, and never a
// Secret the operator writes for this RotatedSecret (its staging Secret, a target) or keeps for itself: reserved
// says why a Secret of the RotatedSecret's namespace is kept ("" when it is not; sink.Reserved).
func CheckOverrides(rs *rotationv1alpha1.RotatedSecret, reserved func(name string) string) error {
	if rs.Spec.Emergency == nil {
		return nil
	}
	seen := map[string]bool{}
	for i, o := range rs.Spec.Emergency.Overrides {
		field := fmt.Sprintf("spec.emergency.overrides[%d]", i)
		kind, name := OverrideRef(o)
		if name == "" || (o.SecretRef != nil && o.ConfigMapRef != nil) {
			return fmt.Errorf("%s: set exactly one of configMapRef or secretRef", field)
		}
		if d, err := o.Duration.Parse(); err != nil || d <= 0 {
			return fmt.Errorf("%s.duration: want a positive whole number followed by d, h or m, not %q", field, o.Duration)
		}
		id := string(kind) + "/" + name + "/" + o.Key
		if seen[id] {
			return fmt.Errorf("%s: key %s of %s %s is already overridden", field, o.Key, kind, name)
		}
		seen[id] = true
		if kind != rotationv1alpha1.OverrideSecret {
			continue
		}
		why := ""
		if name == staging.Name(rs.Name) {
			why = "it is this RotatedSecret's staging Secret"
		}
		for _, t := range rs.Spec.Targets {
			if t.GitHubActions == nil && t.SecretName == name && TargetNamespace(rs, t) == rs.Namespace {
				why = "it is a target of this RotatedSecret"
			}
		}
		if why == "" {
			why = reserved(name)
		}
		if why != "" {
			return fmt.Errorf("%s.secretRef: Secret %s cannot be overridden: %s", field, name, why)
		}
	}
	return nil
}
