#!/usr/bin/env bash
# Make a local Python 3.11 base image for machines that cannot pull python:3.11-slim.
# Usage: tools/make-base-image.sh [NAME:TAG]   (default jupyter-mlops/python:3.11-bookworm)
# Built once per machine: an existing image of that name is kept.
set -euo pipefail
name=${1:-jupyter-mlops/python:3.11-bookworm}
if docker image inspect "$name" >/dev/null 2>&1; then echo "$name"; exit 0; fi
root=$(mktemp -d /tmp/mlops-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$root" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' - "$name" >&2
echo "$name"
