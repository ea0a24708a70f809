#!/usr/bin/env bash
# Regenerates the architecture fixtures with transformers 5.17 and torch (CPU), installed into a
# virtual environment from wheels already on this machine (/opt/pypi, /opt/wheels), or from the
# package index where one is reachable.
#   make_arch_fixtures.sh [OUTDIR (default: the committed fixtures)] [small|wide]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../resources/archs}
venv=${FMSMO_ARCHS_VENV:-$HOME/.cache/fmsmo/archs-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import transformers, torch' 2>/dev/null; then
  python3 -m venv "$venv"
  links=()
  for d in /opt/pypi/files /opt/wheels /opt/pypi-more/files; do [ -d "$d" ] && links+=(--find-links "$d"); done
  "$venv/bin/pip" install -q "${links[@]}" 'torch==2.13.*' 'transformers==5.17.0' safetensors numpy
fi
mkdir -p "$out"
OMP_NUM_THREADS=1 "$venv/bin/python" "$here/make_arch_fixtures.py" "$out" "${2:-small}"
