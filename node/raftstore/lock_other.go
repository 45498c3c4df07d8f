//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package raftstore

import (
	"os"
	"time"
)

// lockFile is a no-op where flock is not available: do not open one store
// from two processes there.
func lockFile(*os.File, time.Duration) error { return nil }
