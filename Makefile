# The two promises of the README: `make demo` (the main job) and `make test` (the suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install dist system-deps lint schema test check test-unit test-integration test-e2e test-s3 test-dist bench conformance demo up screenshots clean

# The project itself is installed too (editable, no dependencies of its own): its provider entry
# point is how Airflow lists the Cloudinary and PhotoShelter connection types.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -rf *.egg-info plugins/*.egg-info  # build leftovers: a second copy of the metadata on sys.path (setup.cfg)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The distribution a deployment installs into its own Airflow (docs/deployment.md): dist/*.whl, dist/*.tar.gz.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist . >/dev/null
	rm -rf *.egg-info
	@ls -l dist

# Debian packages the suites need (Chromium, PostgreSQL, Redis, docker-compose, a CJK font, ffmpeg):
# installed as root, otherwise a stop in the first seconds with the exact command to run.
system-deps:
	@bash scripts/system-deps.sh

lint: install
	$(BIN)/ruff check .
	PYTHONPATH=plugins $(BIN)/lint-imports --no-cache   # the layer contracts (pyproject.toml)
	PYTHONPATH=plugins $(BIN)/python -m campaign_media.cli lint include/

# Regenerate include/schema/*.schema.json after changing config/models.py.
schema: install
	PYTHONPATH=plugins $(BIN)/python -m campaign_media.cli schema --write include/schema

# The whole suite (tests/suite.py): every module once against strict emulators (the pessimistic
# reading of what the APIs' documentation leaves open), in reverse order, as three pytest processes
# side by side; then the modules whose outcome depends on that reading again against permissive
# emulators, with storage on S3, and on a PhotoShelter v4 connection. Ends with the seconds per module.
test: system-deps lint
	$(BIN)/python -m tests.suite

# The inner loop, about two minutes: lint, unit and DAG tests, and the quick integration modules.
CHECK_INTEGRATION := tests/integration/test_photoshelter_hook.py tests/integration/test_cloudinary_emulator.py \
                     tests/integration/test_cloudinary_sdk_facts.py tests/integration/test_retries.py \
                     tests/integration/test_photoshelter_v4.py tests/integration/test_watcher.py
check: lint
	$(BIN)/python -m tests.suite --slots 2 tests/unit tests/dags $(CHECK_INTEGRATION)

S3_TOO := tests/integration/test_lifecycle_dags.py tests/integration/test_archive_and_metrics.py

# The lifecycle on S3, and the installed distribution (a fresh venv: a minute or two).
test-s3: install
	CAMPAIGN_MEDIA_TEST_STORAGE=s3 $(BIN)/pytest $(S3_TOO) tests/integration/test_s3_storage.py

test-dist: install
	$(BIN)/pytest tests/distribution

test-unit: install
	$(BIN)/pytest tests/unit tests/dags

test-integration: system-deps install
	$(BIN)/python -m tests.suite tests/integration

test-e2e: system-deps install
	$(BIN)/python -m tests.suite --slots 2 tests/e2e

# Performance against the emulators with latency added to every call, next to a naive baseline:
# one JSON line per scenario, a table, bench/RESULTS.md (docs/benchmarks.md). QUICK=1: a few minutes.
bench: install
	PYTHONPATH=plugins:. $(BIN)/python -m bench $(if $(QUICK),--quick) $(BENCH_ARGS)

# Cloudinary's own SDK test suite against the emulator, both modes (scripts/conformance.py):
# PYCLOUDINARY=<a checkout of github.com/cloudinary/pycloudinary at the pinned SDK's tag>.
conformance: install
	$(BIN)/python scripts/conformance.py --pycloudinary "$(PYCLOUDINARY)" $(CONFORMANCE_ARGS)

# The demo needs ffmpeg only (the emulators transcode the demo's hero videos with it).
demo: install
	@bash scripts/system-deps.sh --demo
	$(BIN)/python scripts/demo.py

up: install
	@bash scripts/system-deps.sh --demo
	$(BIN)/python scripts/demo.py --keep

# Copy the newest test screenshots, shrunk, into docs/img/ (the README shows them).
screenshots: install
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf .demo .artifacts .pytest_cache .ruff_cache
