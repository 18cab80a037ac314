# The two commands a newcomer needs: `make book` and `make test`. Both set everything up first.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= standard
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: book test setup data lint clean

book: setup data  ## build every chapter at PROFILE (default standard: from the committed records in results/standard, training nothing) into _build/html
	$(PY) -m wpcore book --profile $(PROFILE)

test: setup data  ## the test suite
	$(PY) -m pytest -q -ra

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || (echo "creating $(VENV)"; python3 -m venv $(VENV))
	@echo "installing pinned dependencies into $(VENV) (first time: a few minutes) ..."
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[book,test]"
	@rm -f $(VENV)/.installed-*
	@touch $@

data: setup  ## find Fashion-MNIST (Debian package, apt when root, or checksummed download)
	$(PY) -m wpcore data

lint: setup
	$(PY) -m ruff check wpcore tests benchmarks

clean:
	rm -rf _build
