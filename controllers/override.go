package controllers

import "context"

// applyOverrides applies spec.emergency.overrides when an emergency rotation starts. (Being written.)
func (r *RotatedSecretReconciler) applyOverrides(ctx context.Context, s *scope) outcome {
	return goOnOutcome()
}

// revertOverrides reverts the overrides whose duration ended. (Being written.)
func (r *RotatedSecretReconciler) revertOverrides(ctx context.Context, s *scope) outcome {
	return goOnOutcome()
}
