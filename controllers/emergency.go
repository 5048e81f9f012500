package controllers

import "context"

// preempt: (being written)
func (r *RotatedSecretReconciler) preempt(ctx context.Context, s *scope) outcome { return goOnOutcome() }

// revokeEarly: (being written)
func (r *RotatedSecretReconciler) revokeEarly(ctx context.Context, s *scope) outcome { return goOnOutcome() }

// purgePhase: (being written)
func (r *RotatedSecretReconciler) purgePhase(ctx context.Context, s *scope) outcome { return goOnOutcome() }
