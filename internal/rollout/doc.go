// Package rollout restarts the workloads of a rollout stage and tells whether they are healthy. A workload is
// restarted by writing the revision into one pod-template annotation per RotatedSecret
// (rotation.tribi.io/<name>), the way `kubectl rollout restart` writes restartedAt: the controller of the workload
// then replaces its pods, and patching the same revision again changes nothing. Health follows
// `kubectl rollout status`, so "healthy" means what an operator on call already expects.
package rollout

// FieldOwner is the field manager of every pod-template patch.
const FieldOwner = "secret-rotator"
