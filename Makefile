# The two promises of the README: `make demo` (the main job) and `make test` (the suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt | cksum | cut -d' ' -f1)

.PHONY: install lint test test-unit test-integration demo up clean

$(STAMP): requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	PYTHONPATH=plugins $(BIN)/python -m campaign_media.cli lint include/

test: lint
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit tests/dags

test-integration: install
	$(BIN)/pytest tests/integration

demo: install
	$(BIN)/python scripts/demo.py

up: install
	$(BIN)/python scripts/demo.py --keep

clean:
	rm -rf .demo .artifacts .pytest_cache .ruff_cache
