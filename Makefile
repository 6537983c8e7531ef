# The README's two commands are `make lab` (set up, open the course) and `make test` (set up, run
# every test). Both create .venv on first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Without an NVIDIA GPU, PyTorch's CPU build is installed before the project, from PyTorch's CPU wheel
# index (a plain `torch` from the default index is, on Linux, the CUDA build with about 20 nvidia-*/cuda-*
# packages: gigabytes). Where that index cannot be reached (a mirror, no internet), the default index is
# used and a line says so (one retry and a 15 s timeout per request: an unreachable index costs seconds,
# not pip's default five retries for every package). Override either, e.g. TORCH_CPU_INDEX=<a CPU index>.
TORCH_CPU ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
JOBS ?= 2
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with nbval.cfg --nbval-cell-timeout 300
STAMP := $(VENV)/.installed

SIZE ?= small
DEVICE ?= auto
TRAIN_JOBS ?= 1

.PHONY: setup lab test course slides site notebooks wheel sync-check gpu-test gpu-ci drift doctor clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if ! $(PY) -c "import torch" 2>/dev/null; then \
	  if command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install torch; \
	  else $(PY) -m pip install --retries 1 --timeout 15 --index-url $(TORCH_CPU_INDEX) $(TORCH_CPU) \
	    || { echo "PyTorch's CPU index ($(TORCH_CPU_INDEX)) did not answer: installing $(TORCH_CPU) from the default index"; \
	         $(PY) -m pip install $(TORCH_CPU); }; fi; \
	fi
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

# JupyterLab at the top of the checkout (lessons/, exercises/ and solutions/ side by side), opened on lessons/.
# On this machine only (127.0.0.1; Jupyter prints the URL with its token). Jupyter refuses to run as root
# (containers, many cloud VMs) unless told: the recipe tells it, and says so. LAB_ARGS go to `jupyter lab`
# last, e.g. `make lab LAB_ARGS="--port=8890 --no-browser"`.
LAB_ARGS ?=
lab: setup
	if [ "$$(id -u)" = 0 ]; then echo "running as root: JupyterLab starts with --allow-root"; root_flag=--allow-root; fi; \
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 $$root_flag --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/lessons $(LAB_ARGS)

# First the linter and formatter (ruff) and the package's import layers (lint-imports, see
# [tool.importlinter] in pyproject.toml), then the tests.
# The lesson rules they enforce: CONTRIBUTING.md#rule-formatting, CONTRIBUTING.md#rule-layers and,
# with nbval on lessons/ and kernels/, CONTRIBUTING.md#rule-nbval-outputs.
# pytest-xdist already runs one process per core: one thread each, or PyTorch's thread pools
# oversubscribe the cores and small-op training loops (Lesson 04) slow down several-fold.
test: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(PY) -m pytest -n $(JOBS) --dist loadscope tests lessons kernels $(NBVAL)

COURSE_OUT ?= build/course
# Targets that also run with PY=python3 (an interpreter that already has the packages, as on a GPU
# machine without network) need the venv only when PY is the venv's.
NEEDS_SETUP = $(if $(filter $(VENV)/bin/python,$(PY)),setup)

# Every lesson executed headless; executed notebooks and summary.md land in $(COURSE_OUT).
# TRAIN_JOBS: training runs at once (one process each) in the lessons that train several.
course: $(NEEDS_SETUP)
	MPLBACKEND=Agg $(PY) -m lrnn_course run --size $(SIZE) --device $(DEVICE) --jobs $(TRAIN_JOBS) --out $(COURSE_OUT)

# A reveal.js deck per lesson, from the executed lesson notebooks, in build/slides/: offline, with
# reveal.js and MathJax copied into build/slides/_assets/ from npm (downloaded once into ~/.cache/lrnn-course).
slides: setup
	$(VENV)/bin/lrnn-course slides

# The course site, from the executed lesson notebooks, in build/site/ (open build/site/index.html): every
# page works offline; MathJax is downloaded once from the npm registry, then taken from the cache.
site: setup
	$(VENV)/bin/lrnn-course site

notebooks: setup
	$(VENV)/bin/lrnn-course build

# The wheel an instructor hands out: the package with the exercise, solution, lesson and kernel notebooks
# inside. Learners put it in a wheels/ folder beside their notebooks, whose first cell installs it. It is
# built from a copy of the package, with lrnn_course/notebooks/'s links to the generated folders followed,
# in a new folder: setuptools' staging folder build/lib keeps files of earlier builds (a deleted module
# would ship). --no-build-isolation: setuptools comes from the venv, so no network is needed.
WHEEL_DIR ?= wheels
wheel: $(NEEDS_SETUP)
	staging=$$(mktemp -d) && trap 'rm -rf "$$staging"' EXIT && \
	cp -RL lrnn_course pyproject.toml README.md "$$staging" && \
	$(PY) -m pip wheel --no-deps --no-build-isolation --quiet --wheel-dir "$(abspath $(WHEEL_DIR))" "$$staging"
	@wheel=$$(ls -t "$(abspath $(WHEEL_DIR))"/lrnn_course-*.whl | head -n 1); \
	echo "$$wheel: the course with $$($(PY) -m zipfile -l "$$wheel" | grep -c '\.ipynb ') notebooks inside."; \
	echo "Hand it out in a folder named wheels/ beside the learners' notebooks: their first cell installs it."; \
	echo "(Or: pip install $$wheel; then lrnn-course fetch exercises <folder> gives the notebooks.)"

sync-check: setup
	$(VENV)/bin/lrnn-course build --check

doctor: setup
	$(VENV)/bin/lrnn-course doctor

# On a CUDA machine: the whole suite with the `gpu` tests included (compiled Triton kernels) and
# every notebook executed by papermill with DEVICE="cuda". PY=python3 uses an interpreter that
# already has the packages (no venv is created then).
gpu-test: $(NEEDS_SETUP)
	LRNN_COURSE_DEVICE=cuda MPLBACKEND=Agg $(PY) -m pytest -n $(JOBS) tests -v -rs

# The GPU workflow's steps in one command (gpu-test, then every notebook at SIZE=full on CUDA),
# logged to build/gpu-ci/gpu-ci.log; see .ci/gpu.
gpu-ci:
	PY=$(PY) bash .ci/gpu

# Version-drift alarm: the test suite in a fresh .venv-drift with the newest releases (.ci/drift).
drift:
	bash .ci/drift

clean:
	rm -rf $(VENV) .venv-drift build .pytest_cache
