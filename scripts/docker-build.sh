#!/usr/bin/env bash
# Build the Troika node image (Dockerfile, FROM scratch).
#
#   scripts/docker-build.sh                  # image troika:dev
#   scripts/docker-build.sh troika:0.1.0     # another name
#   TROIKA_IMAGE=troika:x scripts/docker-build.sh
#
# Works from any directory. Needs Go and a Docker engine; pulls nothing (the
# image is FROM scratch). The static binary is compiled on this machine for
# the engine's OS/architecture (CGO_ENABLED=0, so no libc is needed) into
# bin/docker/troika-server, next to an empty bin/docker/data that becomes the
# image's /data. The build context is the repository root, which
# .dockerignore narrows to bin/docker/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${1:-${TROIKA_IMAGE:-troika:dev}}
out=$root/bin/docker

# Compile for the engine's platform (linux/amd64 here; e.g. linux/arm64 on an
# ARM host), whatever the host's own GOOS/GOARCH is.
goos=$(docker version --format '{{.Server.Os}}' 2>/dev/null || true)
goarch=$(docker version --format '{{.Server.Arch}}' 2>/dev/null || true)
if [ -z "$goos" ] || [ -z "$goarch" ]; then
  echo "docker-build: cannot reach a Docker engine (docker version failed)" >&2
  exit 1
fi

echo "docker-build: compiling static troika-server for $goos/$goarch"
rm -rf "$out"
mkdir -p "$out/data"
(cd "$root" && CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch \
  go build -trimpath -ldflags '-s -w' -o "$out/troika-server" ./cmd/troika-server)

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "docker-build: docker build -t $image (revision $rev)"
docker build -t "$image" -f "$root/Dockerfile" \
  --label "org.opencontainers.image.title=troika" \
  --label "org.opencontainers.image.revision=$rev" \
  "$root"
echo "docker-build: built $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
