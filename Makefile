# The commands of the README: `make book`, `make figures` and `make test` (all set up .venv first).
PYTHON      ?= python3.11
VENV        := .venv
BIN         := $(VENV)/bin
PROFILE     ?= quick
# torch/torchvision this project is tested with (on the project's machines they install from local disk).
TORCH_SPEC  ?= torch==2.14.1 torchvision==0.29.1
MATHJAX     := mathjax@3.2.2
MATHJAX_JS  := book/_static/mathjax/tex-svg.js
# Data kept beside the clone (the project's machines hold MNIST in ../shared/data, torchvision's layout)
# is used when $HARMONIC_DATA is not set; otherwise the package's own default (~/.cache/harmonic, download).
ifeq ($(origin HARMONIC_DATA),undefined)
ifneq ($(wildcard ../shared/data/MNIST/raw),)
export HARMONIC_DATA := $(abspath ../shared/data)
endif
endif

.PHONY: book figures test setup mathjax notebooks paper bench clean

book: setup mathjax  ## execute the notebooks of $(PROFILE) with papermill, then jupyter-book build
	$(BIN)/python -m harmonic.pipeline --profile $(PROFILE)

figures: setup mathjax  ## re-execute the pages that train nothing (after a `make book`), then jupyter-book build
	$(BIN)/python -m harmonic.pipeline --profile $(PROFILE) --figures

test: setup mathjax  ## the test suite (unit tests, notebook smoke runs, book build)
	$(BIN)/python -m pytest

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

mathjax: $(MATHJAX_JS)

# MathJax 3 is served from the book itself so that math renders with no network.
$(MATHJAX_JS):
	mkdir -p build/mathjax $(dir $@)
	cd build/mathjax && npm pack --silent $(MATHJAX) >/dev/null && tar -xzf mathjax-*.tgz package/es5/tex-svg.js
	cp build/mathjax/package/es5/tex-svg.js $@

paper: setup  ## record the reference runs (hours on a CPU) into data/results/
	$(BIN)/python -m harmonic.pipeline --profile paper --no-build

bench: setup
	$(BIN)/python benchmarks/bench_mlp.py
	$(BIN)/python benchmarks/bench_harmonic_conv.py --quick

clean:
	rm -rf build book/_build book/notebooks book/_extra
