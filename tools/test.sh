#!/usr/bin/env bash
# Set up a virtual environment (if needed) and run every check and test of drl_notes:
#   1. install the package with its dev extra (torch's version named, as pip needs it here),
#   2. fail if nbdev-export or nbdev-clean would change any file (the notebooks are the source),
#   3. nbdev-test: every notebook top to bottom in its quick size,
#   4. pytest: CLI, bad input, benchmark smoke runs; its summary line ends the output.
# Data: $DRL_NOTES_DATA, or ../shared/data beside the checkout when it exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TORCH_VERSION="${TORCH_VERSION:-2.14.1}"
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
echo "== installing drl_notes[dev] with torch==${TORCH_VERSION}"
pip install -q --disable-pip-version-check -e '.[dev]' "torch==${TORCH_VERSION}" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

if [ -z "${DRL_NOTES_DATA:-}" ] && [ -d ../shared/data ]; then export DRL_NOTES_DATA="$(cd ../shared/data && pwd)"; fi
echo "== data directory: ${DRL_NOTES_DATA:-<unset: only the shipped series are available>}"

echo "== checking that nbdev-export and nbdev-clean leave the tree unchanged"
snapshot() { git status --porcelain --untracked-files=all; git diff; }
before="$(snapshot | sha1sum)"
nbdev-export
nbdev-clean
if [ "$before" != "$(snapshot | sha1sum)" ]; then
  echo "nbdev-export / nbdev-clean changed files: export and clean the notebooks, then commit:" >&2
  git status --porcelain >&2
  exit 1
fi

echo "== nbdev-test (quick size)"
nbdev-test --n-workers 1 --timing

echo "== pytest"
pytest -q
