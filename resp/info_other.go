//go:build !linux

package resp

import "runtime"

func osString() string          { return runtime.GOOS + " " + runtime.GOARCH }
func totalSystemMemory() uint64 { return 0 }
func residentBytes() uint64     { return 0 }
