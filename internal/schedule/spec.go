package schedule

import rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"

// FromSpec parses spec.schedule as the operator reads it; nil means no schedule (always open). The reconciler and
// the kubectl plugin both call it, so a window the plugin shows is the one the operator waits for.
func FromSpec(sc *rotationv1alpha1.ScheduleSpec) (Schedule, error) {
	if sc == nil {
		return Schedule{}, nil
	}
	windows := make([]WindowSpec, 0, len(sc.Windows))
	for _, w := range sc.Windows {
		days := make([]string, 0, len(w.Days))
		for _, d := range w.Days {
			days = append(days, string(d))
		}
		windows = append(windows, WindowSpec{Days: days, Start: w.Start, Duration: string(w.Duration)})
	}
	return Parse(windows, sc.TimeZone, string(sc.MaxDelay))
}
