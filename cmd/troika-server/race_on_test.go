//go:build race

package main

// raceBuild: under `go test -race` the troika-server binary is built with
// the race detector too, and a reported data race fails the test.
const raceBuild = true
