//go:build !linux

package stripetest

import "syscall"

// childAttr: only Linux can tie a child's life to its parent; elsewhere t.Cleanup alone stops stripe-mock.
func childAttr() *syscall.SysProcAttr { return nil }
