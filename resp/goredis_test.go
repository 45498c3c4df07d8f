package resp

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestGoRedisClient runs a real client library against the server: its
// RESP3 handshake (HELLO 3, CLIENT SETINFO), commands, and a pipeline that
// must reach the backend as one Exec call.
func TestGoRedisClient(t *testing.T) {
	be := newFakeBackend()
	_, addr := testServer(t, Config{Backend: be, RequirePass: "pw"})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Password: "pw", Protocol: proto, PoolSize: 1})
		if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("RESP%d SET: %v", proto, err)
		}
		if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Fatalf("RESP%d GET = %q, %v", proto, v, err)
		}
		if err := rdb.Get(ctx, "missing").Err(); err != redis.Nil {
			t.Fatalf("RESP%d GET missing: %v", proto, err)
		}
		if f, err := rdb.IncrByFloat(ctx, "f", 1.5).Result(); err != nil || f != 1.5 {
			t.Fatalf("RESP%d INCRBYFLOAT = %v, %v", proto, f, err)
		}
		err := rdb.MSet(ctx, "a", "1", "b", "2").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
			t.Fatalf("RESP%d MSET across slots: %v", proto, err)
		}
		before := len(be.execCalls())
		cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range 10 {
				p.Incr(ctx, "counter")
			}
			return nil
		})
		if err != nil || len(cmds) != 10 || cmds[9].(*redis.IntCmd).Val() != int64(proto-2)*10+10 {
			t.Fatalf("RESP%d pipeline: %v", proto, err)
		}
		if calls := be.execCalls()[before:]; len(calls) != 1 || len(calls[0]) != 10 {
			t.Fatalf("RESP%d pipeline reached the backend in %d calls", proto, len(calls))
		}
		name, err := rdb.ClientList(ctx).Result()
		if err != nil || !strings.Contains(name, "cmd=client|list") {
			t.Fatalf("RESP%d CLIENT LIST = %q, %v", proto, name, err)
		}
		if info, err := rdb.Info(ctx, "server").Result(); err != nil || !strings.Contains(info, "redis_mode:cluster") {
			t.Fatalf("RESP%d INFO = %q, %v", proto, info, err)
		}
		rdb.Close()
	}
}
