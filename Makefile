# Two commands do everything (each installs what it needs into .venv on first use):
#   make book   build the website, executing every notebook  -> _build/html/index.html
#   make test   lint + unit tests + every notebook executed by nbmake

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Plain text progress bars in logs and on the website (widgets need a live kernel).
export RNNLAB_PROGRESS ?= text

.PHONY: book test bench browser-check lab clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -r requirements.txt
	# d2l 0.17.6 has the API the seeds use; its pins (numpy 1.21, ...) break modern Python.
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

book: $(STAMP) _assets/mathjax/tex-chtml.js
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Website: $(CURDIR)/_build/html/index.html"

# Colab, simulated (tests/test_colab.py): a separate environment with only what stock Colab
# has. Built here, while the network is allowed; the tests themselves run offline.
COLAB := .venv-colab
COLAB_PACKAGES := torch==2.13.0 numpy matplotlib pandas tqdm requests ipykernel nbclient \
	nbformat setuptools

$(COLAB)/.ready: Makefile
	$(PYTHON) -m venv --clear $(COLAB)
	$(COLAB)/bin/python -m pip install -qq $(COLAB_PACKAGES)
	touch $@

# Tests run offline: tests/offline/rnnlab_offline.py refuses network connections in pytest
# and in every notebook kernel it starts.
test: $(STAMP) $(COLAB)/.ready
	$(BIN)/ruff check .
	RNNLAB_OFFLINE=1 PYTHONPATH=$(CURDIR)/tests/offline \
		$(BIN)/python -m pytest tests book --nbmake --nbmake-timeout=1200 -p no:cacheprovider

browser-check: book
	$(BIN)/python tests/browser_check.py

lab: $(STAMP)
	$(BIN)/jupyter lab book/

clean:
	rm -rf _build .jupyter_cache

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
