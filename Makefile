# The two commands in the README: `make app` (install + start the app) and `make test` (install + the whole suite).
PY ?= python3

.PHONY: app install test install-test lint canvas canvas-check gpu-check

install:
	$(PY) -m pip install -e .

app: install
	$(PY) -m streamlit run serve.py

install-test:
	$(PY) -m pip install -e ".[dev]"
	@command -v chromium >/dev/null 2>&1 || { apt-get update && apt-get install -y chromium; }

lint:
	$(PY) -m ruff check .

# CONVAS_REQUIRE_BROWSER=1: a missing browser fails the browser tests instead of skipping them.
test: install-test lint
	CONVAS_REQUIRE_BROWSER=1 $(PY) -m pytest

# Rebuild the canvas bundle from the lockfile (needs Node.js + npm; running the app does not).
canvas:
	cd designer/canvas/frontend && npm ci --no-audit --no-fund && npm run build

# The canvas's TypeScript: type check (tsc --noEmit) and unit tests (vitest) of its pure parts. Run after `canvas`
# (which installs node_modules from the lockfile).
canvas-check:
	cd designer/canvas/frontend && npm run typecheck && npm test

# Every GPU figure and the CUDA tests in one run and one table (benchmarks/gpu_check.py; < 8 min on one H200). No
# install step: it runs from a copy of the tree on an offline GPU machine. On a CPU it runs small and skips the rest.
# GPU_CHECK_ARGS="--out table.md" also writes the table to a file.
gpu-check:
	PYTHONPATH=.$${PYTHONPATH:+:$$PYTHONPATH} $(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)
