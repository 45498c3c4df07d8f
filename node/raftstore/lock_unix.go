//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package raftstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive advisory lock on f, waiting at most timeout,
// so that a second process opening the same store fails instead of
// corrupting it.
func lockFile(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("lock: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lock: held by another process (waited %v): %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
