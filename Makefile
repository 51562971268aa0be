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
	$(VENV)/bin/mypy
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
	rm -rf $(VENV) $(COMPAT_VENV) .pytest_cache .mypy_cache build *.egg-info

# `make test-compat`: the hook, operator, trigger and dag.test() suites on the LOWEST supported Airflow
# (docs/compatibility.md), in a venv of its own. Airflow's constraints files are not on PyPI, so the
# dependencies are resolved as of that release (uv --exclude-newer), as its constraints pinned them.
COMPAT_AIRFLOW ?= 3.1.0
COMPAT_EXCLUDE_NEWER ?= 2025-10-02T00:00:00Z
COMPAT_VENV ?= .venv-compat
COMPAT_PY := $(COMPAT_VENV)/bin/python
COMPAT_STAMP := $(COMPAT_VENV)/.installed-$(COMPAT_AIRFLOW)
COMPAT_TESTS ?= tests/client tests/airflow tests/compat

.PHONY: test-compat

$(COMPAT_STAMP): pyproject.toml
	test -x $(COMPAT_PY) || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_PY) -m pip install -q --upgrade uv
	$(COMPAT_VENV)/bin/uv pip install -q --python $(COMPAT_PY) --exclude-newer $(COMPAT_EXCLUDE_NEWER) \
		'apache-airflow==$(COMPAT_AIRFLOW)' -e '.[test]'
	rm -f $(COMPAT_VENV)/.installed-*
	touch $(COMPAT_STAMP)

test-compat: $(COMPAT_STAMP)
	$(COMPAT_PY) -c 'import airflow; assert airflow.__version__ == "$(COMPAT_AIRFLOW)", airflow.__version__'
	$(COMPAT_PY) -m pytest $(COMPAT_TESTS) $(PYTEST_ARGS)
