package resp

import (
	"testing"
	"time"
)

// TIME reports the configured data clock (debug-clock-offset-ms shifts it).
func TestTimeUsesConfiguredClock(t *testing.T) {
	fixed := time.Unix(1_234_567_890, 123_456_000)
	_, addr := testServer(t, Config{Clock: func() time.Time { return fixed }})
	c := dial(t, addr)
	if got, want := c.do("TIME"), "*2\r\n$10\r\n1234567890\r\n$6\r\n123456\r\n"; got != want {
		t.Fatalf("TIME = %q, want %q", got, want)
	}
}
