# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Every install goes through the one constraints file; the local torch wheel folder is used when present.
PIPFLAGS := -q -c constraints.txt $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: setup demo test lint bench clean chromium

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIPFLAGS) setuptools wheel
	$(PIP) install $(PIPFLAGS) --no-build-isolation -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/gesturegan demo --out $(DEMO_OUT)

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint chromium
	$(VENV)/bin/pytest

# The studio's browser tests drive Debian's chromium (never a browser downloaded by Playwright).
chromium:
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
