//go:build !linux

package main

import "syscall"

// childAttr: see sysproc_linux_test.go (Pdeathsig is Linux-only).
func childAttr() *syscall.SysProcAttr { return nil }
