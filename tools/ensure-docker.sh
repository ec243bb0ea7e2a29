#!/usr/bin/env bash
# Start a Docker engine when none answers. Idempotent; needs root and Debian's docker.io.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null; then
  echo "ensure-docker: dockerd not found; install Debian's docker.io" >&2; exit 1
fi
log=${DOCKERD_LOG:-/tmp/dockerd.log}
nohup setsid dockerd >"$log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; see $log" >&2
tail -20 "$log" >&2
exit 1
