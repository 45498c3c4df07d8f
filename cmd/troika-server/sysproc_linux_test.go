//go:build linux

package main

import "syscall"

// childAttr makes the kernel kill a child server when the test process
// dies (a test timeout panics without running the cleanups).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
