# Troika node image: nothing but a static troika-server binary.
#
# Build it with scripts/docker-build.sh (it compiles the binary on the host
# with CGO_ENABLED=0 into bin/docker/ and runs `docker build` from the
# repository root; .dockerignore sends only bin/docker/ to the daemon):
#
#   scripts/docker-build.sh                 # -> troika:dev
#   scripts/docker-build.sh troika:0.1.0    # or TROIKA_IMAGE=... scripts/docker-build.sh
#
# Run one node (it bootstraps a one-node cluster on the empty volume):
#
#   docker run -d --name troika -p 127.0.0.1:6379:6379 -v troika-data:/data troika:dev
#
# Arguments after the image name are appended to the default ones below and
# use redis.conf names, as with redis-server; a later directive overrides an
# earlier one, so `--dir /elsewhere` works. A configuration file cannot be the
# first argument here (the defaults come first): mount it and pass
# `--include /etc/troika/troika.conf` instead. For a multi-node cluster give
# every node `--cluster-announce-ip <its container IP>` (otherwise it
# announces 127.0.0.1 to peers and clients) and `--cluster-join` on all but
# the first: see docker-compose.yml. `--version`/`--help` need the entrypoint
# replaced: `docker run --rm --entrypoint /troika-server troika:dev --version`.
#
# There is no shell, no CA bundle and no /etc/passwd in the image. There is
# no HEALTHCHECK either: a scratch image has nothing to run one with (no
# shell, no redis-cli), and the binary has no client/ping mode. Probe the
# client port from outside instead (`redis-cli -h <ip> cluster info` shows
# cluster_state:ok), as scripts/docker-smoke.sh does.
FROM scratch

# /data belongs to the unprivileged user the server runs as. A new named
# volume mounted there starts as a copy of this directory, ownership
# included, so it is writable. A bind-mounted host directory keeps its
# host ownership: chown it to 65532 or run with `--user 0`.
COPY --chown=65532:65532 bin/docker/data /data
COPY bin/docker/troika-server /troika-server

USER 65532:65532
WORKDIR /data
VOLUME ["/data"]

# 6379: client port (RESP). 16379: cluster port (port + 10000), used over TCP
# (Raft and cluster traffic) and UDP (gossip) between nodes; only the client
# port needs publishing to the host.
EXPOSE 6379/tcp 16379/tcp 16379/udp

# --protected-mode no: container networking. With protected mode on, no
# requirepass and the default wildcard bind, the server only accepts
# loopback clients; in a container every client arrives from a non-loopback
# address (other containers, the bridge gateway, docker-proxy for published
# ports), so every one of them would get the DENIED error. Access control is
# the network's job here: publish the client port on 127.0.0.1 only (as
# docker-compose.yml does) or set --requirepass.
ENTRYPOINT ["/troika-server", "--dir", "/data", "--protected-mode", "no"]
