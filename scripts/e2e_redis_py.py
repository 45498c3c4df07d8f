#!/usr/bin/python3
"""End-to-end check of Troika with redis-py's RedisCluster client.

    /usr/bin/python3 scripts/e2e_redis_py.py PORT [N]

Connects through one startup node, then SET/GET/EXPIRE/TTL on N keys (default
500) spread over all slots, a pipeline and a hash-tagged MGET. Exits 0 and
prints "ok N" on success; any mismatch raises (non-zero exit, traceback).
Run by cmd/troika-server/e2e_test.go (TestPythonRedisCluster).
"""
import sys
import time

from redis.cluster import ClusterNode, RedisCluster


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)], decode_responses=True)
    assert rc.ping(), "PING"

    for i in range(n):
        assert rc.set(f"py:{i}", f"value-{i}") is True, f"SET py:{i}"
    for i in range(n):
        got = rc.get(f"py:{i}")
        assert got == f"value-{i}", f"GET py:{i} = {got!r}"
    started = time.monotonic()
    for i in range(0, n, 2):
        assert rc.expire(f"py:{i}", 1000) is True, f"EXPIRE py:{i}"
    for i in range(n):
        ttl = rc.ttl(f"py:{i}")
        # The TTL counts down while the loops run: allow for the time spent.
        low = 1000 - int(time.monotonic() - started) - 2
        if i % 2 == 0:
            assert low <= ttl <= 1000, f"TTL py:{i} = {ttl} (expected {low}..1000)"
        else:
            assert ttl == -1, f"TTL py:{i} = {ttl}"
    assert rc.expire("py:missing", 10) is False, "EXPIRE on a missing key"
    assert rc.get("py:missing") is None, "GET on a missing key"

    # A pipeline spread over many slots.
    pipe = rc.pipeline()
    for i in range(n):
        pipe.incrby(f"pyc:{i}", i)
    assert pipe.execute() == list(range(n)), "pipelined INCRBY"

    # Multi-key commands inside one hash slot.
    keys = [f"{{pytag}}:{i}" for i in range(20)]
    assert rc.mset({k: k.upper() for k in keys}) is True, "MSET"
    assert rc.mget(keys) == [k.upper() for k in keys], "MGET"
    assert rc.delete(*keys) == len(keys), "DEL"
    assert rc.exists(*keys) == 0, "EXISTS"

    print(f"ok {n}")


if __name__ == "__main__":
    main()
