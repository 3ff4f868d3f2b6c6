# The front door: `make demo` builds the default bundle, `make test` runs the test suite.
# Both set up .venv first; setup is idempotent and takes seconds when nothing changed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.mobilesdk-setup
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast clean

setup: $(STAMP)

$(STAMP): requirements/toolchain.txt requirements/nodeps.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/toolchain.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/nodeps.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "setup done: $(VENV) has the verified toolchain (run '$(BIN)/mobilesdk doctor' to see it)"

demo: setup
	$(BIN)/mobilesdk build examples/bundle.toml --out dist/bundle --jobs 2
	$(BIN)/mobilesdk verify dist/bundle

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --durations=15  # 2 workers for 2 cores; the slowest tests, to keep the suite in its time budget

# The inner loop: everything but the tests marked slow (onnx2tf, ExecuTorch lowering of the families, e2e).
test-fast: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadscope -m "not slow"

clean:
	rm -rf dist .mobilesdk-cache
