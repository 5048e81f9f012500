package controllers

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/policy"
)

// keptFirst is how many of an incident's first entries survive when its timeline is full: the request, what was
// discarded and revoked; after them the newest are kept.
const keptFirst = 12

// openIncident starts the record of an emergency (newest first; at most MaxIncidents are kept, whatever
// revisionHistoryLimit says).
func (s *scope) openIncident(inc rotationv1alpha1.Incident) *rotationv1alpha1.Incident {
	inc.Outcome = rotationv1alpha1.IncidentOutcomeInProgress
	list := append([]rotationv1alpha1.Incident{inc}, s.rs.Status.Incidents...)
	if len(list) > rotationv1alpha1.MaxIncidents {
		list = list[:rotationv1alpha1.MaxIncidents]
	}
	s.rs.Status.Incidents = list
	return &s.rs.Status.Incidents[0]
}

// incident returns the record of the emergency with token, or with "" the one in progress; nil when there is none.
func (s *scope) incident(token string) *rotationv1alpha1.Incident {
	for i := range s.rs.Status.Incidents {
		inc := &s.rs.Status.Incidents[i]
		if (token == "" && inc.Outcome == rotationv1alpha1.IncidentOutcomeInProgress) || (token != "" && inc.Token == token) {
			return inc
		}
	}
	return nil
}

// note adds a step to the timeline of the emergency with token ("": the one in progress), if there is one. A full
// timeline keeps its first entries and the newest.
func (s *scope) note(token string, t rotationv1alpha1.IncidentEntryType, format string, args ...any) {
	inc := s.incident(token)
	if inc == nil {
		return
	}
	e := rotationv1alpha1.IncidentEntry{Time: metav1.NewTime(s.now), Type: t, Message: policy.Sanitize(fmt.Sprintf(format, args...), rotationv1alpha1.MaxIncidentMessage)}
	if n := len(inc.Timeline); n > 0 && inc.Timeline[n-1].Type == t && inc.Timeline[n-1].Message == e.Message {
		return // a retried pass records the same step once
	}
	if len(inc.Timeline) >= rotationv1alpha1.MaxIncidentEntries {
		inc.Timeline = append(inc.Timeline[:keptFirst], inc.Timeline[keptFirst+1:]...)
	}
	inc.Timeline = append(inc.Timeline, e)
}

// noteFor adds a step to the timeline of the emergency that produced or compromised rev, if one did.
func (s *scope) noteFor(rev int64, t rotationv1alpha1.IncidentEntryType, format string, args ...any) {
	if token := s.incidentOf(rev); token != "" {
		s.note(token, t, format, args...)
	}
}

// endIncident closes the emergency in progress with outcome.
func (s *scope) endIncident(outcome rotationv1alpha1.IncidentOutcome, t rotationv1alpha1.IncidentEntryType, msg string) {
	inc := s.incident("")
	if inc == nil {
		return
	}
	s.note(inc.Token, t, "%s", msg)
	inc.Outcome, inc.EndTime = outcome, &metav1.Time{Time: s.now}
}

// requester names who set the emergency annotation, from the API server's copy: the cache keeps no field sets.
func (r *RotatedSecretReconciler) requester(ctx context.Context, rs *rotationv1alpha1.RotatedSecret) string {
	var live rotationv1alpha1.RotatedSecret
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(rs), &live); err != nil {
		return "" // the incident says "unknown"; the rotation does not wait for it
	}
	return requestedBy(&live)
}

// requestedBy names the field manager that last set the emergency annotation, from managedFields ("" when the
// object carries none, e.g. a cache that strips them).
func requestedBy(rs *rotationv1alpha1.RotatedSecret) string {
	field := `"f:` + rotationv1alpha1.EmergencyAnnotation + `"`
	who, when := "", metav1.Time{}
	for _, mf := range rs.ManagedFields {
		if mf.FieldsV1 == nil || !strings.Contains(string(mf.FieldsV1.Raw), field) {
			continue
		}
		if mf.Time != nil && (who == "" || mf.Time.After(when.Time)) || who == "" {
			who = mf.Manager
			if mf.Time != nil {
				when = *mf.Time
			}
		}
	}
	return who
}
