// Package notify renders rotation notifications and delivers them to webhooks (spec.notify): a Slack-compatible
// message or a JSON document, POSTed with a stable delivery id. It knows nothing of Kubernetes; the reconciler
// decides what to send and when, and keeps the crash-safe outbox in the RotatedSecret's status.
//
// Delivery is at least once. The reconciler records a delivery, with the id DeliveryID gives it, before calling
// Send, and removes it after Send returned nil (a 2xx answer). A crash between the two sends the same document
// again with the same id, in the Idempotency-Key and X-Secret-Rotator-Delivery headers and in the JSON document's
// "id": receivers deduplicate on it. A failed delivery is retried after Backoff(attempts) while the error is
// retryable (see DeliveryError) and fewer than MaxAttempts attempts have failed; then it is dropped and reported.
//
// A notification never carries a secret value: Message has no field for one, only names, revisions, keyed
// fingerprints and texts the operator wrote. The webhook URL is a secret too (a Slack incoming-webhook URL holds
// its token in the path), so no error of this package contains a URL beyond its scheme and host, nor anything the
// webhook answered beyond its HTTP status.
//
// Every rendered body is at most MaxBody bytes: Description and Message are cut to fit (ending in "…"), the other
// fields at MaxField bytes each as encoded, which only hostile input reaches. The JSON document stays valid JSON.
package notify
