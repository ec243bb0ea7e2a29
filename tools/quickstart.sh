#!/usr/bin/env bash
# The main job: set up, then run the quickstart on the embedded default workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/python tools/quickstart.py "$@"
