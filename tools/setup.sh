#!/usr/bin/env bash
# Set up a fresh Debian machine for jupyter-mlops: system packages, Node tools, a virtualenv
# with the package and its test extras, a running Docker engine and the local base image.
# Idempotent: a second run only checks. Run from anywhere; works in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n== %s\n' "$*"; }

need_apt=()
# nginx: the local proxy of endpoints (run as the current user from generated configs; never as a service)
for pkg in postgresql docker.io docker-registry debootstrap chromium wrk valgrind nginx nodejs npm; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done
# Machines that ship their own node/npm (not from Debian) keep them.
if command -v node >/dev/null && command -v npm >/dev/null; then
  need_apt=("${need_apt[@]/nodejs}"); need_apt=("${need_apt[@]/npm}")
fi
need_apt=(${need_apt[@]+"${need_apt[@]}"})
if ((${#need_apt[@]})); then
  say "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

# @kubernetes-models/gateway-api: the Gateway API's schemas, to validate endpoints' HTTPRoutes offline
if [ ! -x .tools/node_modules/.bin/azurite-blob ] || [ ! -d .tools/node_modules/playwright-core ] \
    || [ ! -d .tools/node_modules/@kubernetes-models/gateway-api ]; then
  say "npm install azurite playwright-core @kubernetes-models/gateway-api (into .tools/)"
  npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3 playwright-core@1 \
    @kubernetes-models/gateway-api@2 >/dev/null
fi

# The JupyterLab extension: TypeScript built into jupyter_mlops/labextension with node only (rspack,
# @jupyterlab/core-meta pinned in package-lock.json: nothing is fetched from GitHub), before the
# editable install below copies it to .venv/share/jupyter/labextensions. node_modules also holds
# galata for the UI tests (tests/labextension), which drive Debian's chromium: no browser download.
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || { echo "the JupyterLab extension needs node >= 20.19 (rspack); found $(node --version)" >&2; exit 1; }
if [ ! -d labextension/node_modules/@jupyter/builder ] || [ labextension/package-lock.json -nt labextension/node_modules/.package-lock.json ]; then
  say "npm ci (labextension/)"
  (cd labextension && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
bundle=jupyter_mlops/labextension/package.json
if [ ! -f "$bundle" ] || [ -n "$(find labextension/src labextension/style labextension/package.json -newer "$bundle" -print -quit)" ]; then
  say "build the JupyterLab extension"
  (cd labextension && npm run --silent build >/dev/null)
fi

if [ ! -x .venv/bin/python ]; then
  say "python virtualenv .venv"
  python3 -m venv .venv
fi
say "pip install -e .[test]"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

say "Docker engine and local base image"
if bash tools/ensure-docker.sh; then
  bash tools/make-base-image.sh "${JUPYTER_MLOPS_TEST_BASE_IMAGE:-jupyter-mlops/python:3.11-bookworm}" >/dev/null
else
  echo "no Docker engine: image builds and the docker target will be unavailable" >&2
fi
