#!/usr/bin/env bash
# The main job: set up, then run the quickstart on the embedded default workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# Where python:3.11-slim cannot be pulled, images build on the local base image setup.sh made.
if docker info >/dev/null 2>&1 && ! docker image inspect python:3.11-slim >/dev/null 2>&1; then
  export JUPYTER_MLOPS_BASE_IMAGE=${JUPYTER_MLOPS_BASE_IMAGE:-jupyter-mlops/python:3.11-bookworm}
fi
exec .venv/bin/python tools/quickstart.py "$@"
