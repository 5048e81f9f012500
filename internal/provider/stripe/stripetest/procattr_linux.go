package stripetest

import "syscall"

// childAttr makes the kernel kill stripe-mock when the test binary dies without running its cleanups (a panic,
// a timeout, ^C), so no server is left behind.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
