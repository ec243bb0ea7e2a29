#!/usr/bin/env bash
# Static checks: ruff (lint), mypy (strict on api, errors and serving/), import-linter (the layers).
# .ci/run runs this before the tests; needs the virtualenv that tools/setup.sh makes.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff check"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== lint-imports"; .venv/bin/lint-imports --no-cache
