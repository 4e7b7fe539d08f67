# The two set-up commands of the README's quick start:
#   make demo   installs anim3d in .venv and animates examples/hello.wav with the shipped default model
#   make test   installs anim3d with its test extras (and the system tools the tests use) and runs the suite
# make test-fast runs the suite without the tests marked slow (under 2 minutes), after make test has installed it
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch lies on this project's machines as torch==2.13.0; GPU users may set TORCH_SPEC=torch.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-fast install install-test system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test]"

system-deps:
	bash scripts/install_system_deps.sh

demo: install
	mkdir -p out
	$(BIN)/anim3d animate examples/hello.wav -o out/hello.glb

# pytest exits 5 when it collects no test: that is a failure here, not a silent green.
test: install-test system-deps
	$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc = 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-fast: install-test
	$(BIN)/python -m pytest -q -m "not slow"
