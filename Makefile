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

demo: $(STAMP)
	$(PY) scripts/demo_airflow.py

demo-http: $(STAMP)
	$(PY) scripts/demo.py

emulator: $(STAMP)
	$(VENV)/bin/anaplan-emulator --host 127.0.0.1 --port 8765

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
