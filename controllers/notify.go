package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	rotationv1alpha1 "github.com/tribi/secret-rotator/api/v1alpha1"
	"github.com/tribi/secret-rotator/internal/conditions"
	"github.com/tribi/secret-rotator/internal/notify"
)

// deliverTimeout bounds one webhook call: a receiver that hangs holds a worker no longer than this.
const deliverTimeout = 5 * time.Second

// notify queues event about revision rev for every spec.notify entry that wants it, in status.notifications.outbox:
// it is stored with the status patch that records the fact, and sent by deliver in a later pass, so a restart in
// between sends it then, with the same id. msg says what happened (never a value); at is when, for Scheduled.
func (s *scope) notify(event rotationv1alpha1.NotifyEvent, rev int64, msg string, at *time.Time) {
	when := s.now
	if at != nil {
		when = *at
	}
	for i, n := range s.rs.Spec.Notify {
		if len(n.On) > 0 && !slices.Contains(n.On, event) {
			continue
		}
		st := &s.rs.Status
		if st.Notifications == nil {
			st.Notifications = &rotationv1alpha1.NotificationStatus{}
		}
		id := notify.DeliveryID(string(s.rs.UID), s.rs.Namespace, s.rs.Name, rev, notify.Event(event), i)
		if queued(st.Notifications, id) {
			continue // the same fact told again (a retried attempt): one notification per revision and event
		}
		if len(st.Notifications.Outbox) >= 64 {
			st.Notifications.Dropped++ // a receiver down for days: keep the newest, count the rest
			st.Notifications.Outbox = st.Notifications.Outbox[1:]
		}
		st.Notifications.Outbox = append(st.Notifications.Outbox, rotationv1alpha1.Delivery{
			ID: id, Event: event, Sink: int32(i), Revision: rev,
			Time: metav1.Time{Time: when}, Message: conditions.Bound(msg),
		})
		s.wakeAt(s.now, 0)
	}
}

// queued reports whether the notification id is in the outbox or was the last one delivered.
func queued(ns *rotationv1alpha1.NotificationStatus, id string) bool {
	if ns.LastDelivered != nil && ns.LastDelivered.ID == id {
		return true
	}
	return slices.ContainsFunc(ns.Outbox, func(d rotationv1alpha1.Delivery) bool { return d.ID == id })
}

// deliver sends the notifications in the outbox that are due: a 2xx removes one; a failure is retried with
// backoff, raises NotificationFailing, and after notify.MaxAttempts gives up on it. It never holds or fails a
// rotation: it always lets the next phase run.
func (r *RotatedSecretReconciler) deliver(ctx context.Context, s *scope) outcome {
	ns := s.rs.Status.Notifications
	if ns == nil || !slices.ContainsFunc(ns.Outbox, func(d rotationv1alpha1.Delivery) bool {
		return d.NextAttempt == nil || !s.now.Before(d.NextAttempt.Time)
	}) {
		if ns != nil {
			for _, d := range ns.Outbox {
				s.wakeAt(d.NextAttempt.Time, 0)
			}
		}
		return goOnOutcome()
	}
	// A pass on a stale copy would send what an earlier pass already delivered and removed: only the API
	// server's copy decides what is still to be sent.
	if err := s.ensureFresh(ctx, r); err != nil {
		return retry(err)
	}
	ns = s.rs.Status.Notifications
	kept := ns.Outbox[:0:0]
	for _, d := range ns.Outbox {
		if d.NextAttempt != nil && s.now.Before(d.NextAttempt.Time) {
			kept = append(kept, d)
			s.wakeAt(d.NextAttempt.Time, 0)
			continue
		}
		err := r.send(ctx, s, d)
		if err == nil {
			delivered := d
			delivered.NextAttempt = nil
			ns.LastDelivered = &delivered
			s.noteFor(d.Revision, rotationv1alpha1.IncidentNotified, "%s notification %s delivered to spec.notify[%d]", d.Event, d.ID, d.Sink)
			continue
		}
		d.Attempts++
		failure := d
		failure.Message = conditions.Bound(err.Error())
		failure.NextAttempt = nil
		ns.LastFailure = &failure
		ctrl.LoggerFrom(ctx).Info("Notification not delivered", "id", d.ID, "event", d.Event, "attempt", d.Attempts, "error", failure.Message)
		if int(d.Attempts) >= notify.MaxAttempts {
			ns.Dropped++
			s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonNotificationFailing, "Notify",
				"Gave up on notification %s (%s) after %d attempts: %s", d.ID, d.Event, d.Attempts, failure.Message)
			continue
		}
		next := s.now.Add(notify.Backoff(int(d.Attempts)))
		d.NextAttempt = &metav1.Time{Time: next}
		s.wakeAt(next, 0)
		kept = append(kept, d)
	}
	ns.Outbox = kept
	failing := false
	for _, d := range kept {
		failing = failing || d.Attempts > 0
	}
	switch c := conditions.Get(s.rs, rotationv1alpha1.ConditionNotificationFailing); {
	case failing && (c == nil || c.Status != metav1.ConditionTrue):
		s.event(corev1.EventTypeWarning, rotationv1alpha1.ReasonNotificationFailing, "Notify", "%s", ns.LastFailure.Message)
		fallthrough
	case failing:
		s.setCondition(rotationv1alpha1.ConditionNotificationFailing, metav1.ConditionTrue, rotationv1alpha1.ReasonNotificationFailing,
			fmt.Sprintf("Notification %s (%s) not delivered after %d attempt(s): %s; retried with backoff",
				ns.LastFailure.ID, ns.LastFailure.Event, ns.LastFailure.Attempts, ns.LastFailure.Message))
	case c != nil && c.Status == metav1.ConditionTrue:
		s.setCondition(rotationv1alpha1.ConditionNotificationFailing, metav1.ConditionFalse, rotationv1alpha1.ReasonNotificationsDelivered,
			"Every notification was delivered")
	}
	// Record what was sent at once: the later the record, the likelier a concurrent change of the object makes
	// the status patch conflict, and the deliveries go out again (with the same ids).
	return next(r.persist(ctx, s))
}

// send renders one delivery and posts it to its sink's webhook, read (as the RotatedSecret's ServiceAccount) from
// the Secret the spec names.
func (r *RotatedSecretReconciler) send(ctx context.Context, s *scope, d rotationv1alpha1.Delivery) error {
	if int(d.Sink) >= len(s.rs.Spec.Notify) {
		return fmt.Errorf("spec.notify[%d] no longer exists", d.Sink)
	}
	if r.Notifier == nil {
		return fmt.Errorf("notifications are not enabled in this operator")
	}
	sink := s.rs.Spec.Notify[d.Sink]
	url, err := r.credentials(s).Credential(ctx, sink.Webhook.URLSecretRef)
	if err != nil {
		return fmt.Errorf("webhook URL (Secret %s, key %s): %w", sink.Webhook.URLSecretRef.Name, sink.Webhook.URLSecretRef.Key, err)
	}
	if err := notify.CheckURL(string(url)); err != nil {
		return err
	}
	body, err := notify.Render(string(formatOf(sink)), s.message(d))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	return r.Notifier.Send(ctx, string(url), body, d.ID)
}

// message is what a delivery says: names, revision, trigger, fingerprint and times, never a value.
func (s *scope) message(d rotationv1alpha1.Delivery) notify.Message {
	m := notify.Message{
		ID: d.ID, Event: notify.Event(d.Event), Name: s.rs.Name, Namespace: s.rs.Namespace, Owner: s.rs.Spec.Owner,
		Description: s.rs.Spec.Description, Revision: d.Revision, Message: d.Message,
		Urgent: d.Event == rotationv1alpha1.NotifyEmergency,
	}
	if h := s.history(d.Revision); h != nil {
		m.Trigger, m.Outcome, m.Fingerprint = string(h.Trigger), string(h.Outcome), h.Fingerprint
		m.StartTime = h.StartTime.Time
		if h.CompletionTime != nil {
			m.CompletionTime = h.CompletionTime.Time
		}
	}
	if d.Event == rotationv1alpha1.NotifyScheduled {
		m.ScheduledFor = d.Time.Time
	}
	return m
}

func formatOf(n rotationv1alpha1.NotifySpec) rotationv1alpha1.NotifyFormat {
	if n.Format == "" {
		return rotationv1alpha1.NotifyJSON
	}
	return n.Format
}
