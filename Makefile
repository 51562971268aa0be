# Two commands: `make demo` (the main job against the emulator) and `make test` (the whole suite).
# Each creates .venv from pyproject.toml when missing or stale.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test lint demo demo-http emulator clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# PORT: the emulator's port (`make demo PORT=8800`; default: a free port for the demos, 8765 for
# `make emulator`). EMULATOR_HOST: the address `make emulator` listens on (default 127.0.0.1).
PORT ?=
EMULATOR_HOST ?= 127.0.0.1

demo: $(STAMP)
	$(PY) scripts/demo_airflow.py $(if $(PORT),--port $(PORT))

demo-http: $(STAMP)
	$(PY) scripts/demo.py $(if $(PORT),--port $(PORT))

emulator: $(STAMP)
	$(VENV)/bin/anaplan-emulator --host $(EMULATOR_HOST) --port $(or $(PORT),8765)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
