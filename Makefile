# Everything bootstraps from a fresh clone with only python3 present.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install browser graphviz bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev,dask]'
	@touch $(STAMP)

# Headless Chromium from Debian's packages, for the report-page tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -q && apt-get install -y -q chromium) >/tmp/hubcensus-chromium.log 2>&1 \
	  || { echo "could not install chromium (see /tmp/hubcensus-chromium.log)"; exit 1; }; }

# Graphviz dot from Debian's packages: lays out the family tree figures (without it the pages say so and keep the tables).
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing Debian graphviz for the family tree figures"; \
	  (apt-get update -q && apt-get install -y -q graphviz) >/tmp/hubcensus-graphviz.log 2>&1 \
	  || { echo "could not install graphviz (see /tmp/hubcensus-graphviz.log): the family tree figures will not be drawn"; }; }

demo: $(STAMP) graphviz
	$(BIN)/hubcensus demo

test: $(STAMP) browser graphviz
	$(BIN)/python -m pytest

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) hubcensus-data .pytest_cache
