# The front door: `make demo` builds the default bundle, `make test` runs the test suite.
# Both set up .venv first; setup is idempotent and takes seconds when nothing changed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.mobilesdk-setup
BIN := $(VENV)/bin
# The Kotlin compiler the bindings' tests compile with: JetBrains' release, from the npm registry
# (Debian's kotlin is 1.3; Maven is out of reach here). Needs Node.js's npm and a JDK.
KOTLIN_VERSION := 2.4.20
KOTLIN_STAMP := $(VENV)/kotlinc/.version-$(KOTLIN_VERSION)
# The JUnit XML schema Jenkins and the common CI systems read (junit-10.xsd), the copy pytest's own
# tests validate against, taken from pytest's source distribution: the tests validate `--junit` files with it.
JUNIT_XSD := $(VENV)/share/junit-10.xsd

.PHONY: setup demo test test-fast clean

setup: $(STAMP) $(KOTLIN_STAMP) $(JUNIT_XSD)

$(STAMP): requirements/toolchain.txt requirements/nodeps.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/toolchain.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/nodeps.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "setup done: $(VENV) has the verified toolchain (run '$(BIN)/mobilesdk doctor' to see it)"

$(KOTLIN_STAMP):
	@if command -v npm >/dev/null && command -v java >/dev/null; then \
	  rm -rf $(VENV)/kotlinc $(VENV)/package && cd $(VENV) && \
	  npm pack --silent kotlin-compiler@$(KOTLIN_VERSION) >/dev/null && \
	  tar xzf kotlin-compiler-$(KOTLIN_VERSION).tgz && mv package kotlinc && rm kotlin-compiler-$(KOTLIN_VERSION).tgz && touch kotlinc/.version-$(KOTLIN_VERSION) && \
	  echo "setup: kotlinc $(KOTLIN_VERSION) in $(VENV)/kotlinc (the bindings' tests compile with it)"; \
	else echo "setup: no npm or java here, so no Kotlin compiler: the Android bindings' tests will skip"; fi

$(JUNIT_XSD): requirements/toolchain.txt | $(STAMP)
	@rm -rf $(VENV)/share/pytest-sdist && mkdir -p $(VENV)/share
	$(BIN)/pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d $(VENV)/share/pytest-sdist \
	  "$$(grep '^pytest==' requirements/toolchain.txt)"
	tar xzf $(VENV)/share/pytest-sdist/pytest-*.tar.gz -C $(VENV)/share --strip-components=3 --wildcards '*/testing/example_scripts/junit-10.xsd'
	@rm -rf $(VENV)/share/pytest-sdist && test -f $@

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
