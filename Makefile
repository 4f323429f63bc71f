# Two-Tower Recommender from Scratch: every command of the course.
# `make help` lists them. Every target sets up what it needs (virtual environment,
# requirements, data) by itself.

PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
PY      := $(VENV)/bin/python
DATASET ?= ml-latest-small
# A local copy of the MovieLens archive or folder (classrooms without internet, CI).
SOURCE  ?= $(DATA_SOURCE)
LESSON  ?=
# Whose lesson functions `make demo` runs: auto (yours where written), mine, reference.
CODE    ?= auto
export PYTHONDONTWRITEBYTECODE = 1

.DEFAULT_GOAL := help
.PHONY: help venv data stubs check check-solutions progress test demo recommend similar bench figures hint reset watch grade grade-merge nbval notebooks

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(VENV)/.installed ## create .venv, install requirements.txt and the course itself (editable)

data: venv ## download and verify MovieLens (DATASET=ml-latest-small|ml-32m, SOURCE=zip or folder)
	$(PY) -m datasets.fetch --dataset $(DATASET) $(if $(SOURCE),--source "$(SOURCE)")

stubs: venv ## (maintainers) regenerate lessons/ from solutions/; changed learner files are backed up
	$(PY) -m course.stubgen

check: venv ## grade your lesson: make check LESSON=N [TASK=N.k]
	@$(PY) -m commands.check $(LESSON) $(if $(TASK),--task $(TASK))

check-solutions: venv ## run every check on the reference solutions
	@$(PY) -m commands.check --target solutions $(LESSON)

progress: venv ## every lesson's score and the next lesson to do
	@$(PY) -m commands.check --progress

hint: venv ## a hint, one more each time: make hint LESSON=N [TASK=N.k]
	@$(PY) -m commands.hints $(LESSON) $(TASK)

reset: venv ## restore the pristine stub of LESSON=N (your file is backed up first)
	@$(PY) -m commands.reset $(LESSON)

watch: venv ## re-run the checks of LESSON=N whenever you save the lesson file
	@$(PY) -m commands.watch $(LESSON)

grade: venv ## (instructors) grade SUBMISSION=path (a learner's checkout, or a folder of them; SHARD=k/n: a share)
	@$(PY) -m commands.grade "$(SUBMISSION)" $(if $(REPORTS),--reports "$(REPORTS)") $(if $(SHARD),--shard "$(SHARD)")

grade-merge: venv ## (instructors) write class.md and class.csv in REPORTS from the shares graded with SHARD=k/n
	@$(PY) -m commands.grade --merge $(if $(REPORTS),--reports "$(REPORTS)")

test: venv data ## the maintainers' test suite
	$(PY) -m pytest -q
	$(NBVAL)

# Strict nbval (every output compared, not --nbval-lax), in this environment's kernel; the
# sanitize file masks wall-clock durations and nothing else. An empty MPLBACKEND lets the
# kernel draw figures inline even where the environment sets MPLBACKEND=Agg (some CI images).
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with solutions/notebooks/sanitize.cfg
NBVAL = MPLBACKEND= $(PY) -m pytest -q $(NBVAL_FLAGS) solutions/notebooks

nbval: venv data ## re-execute the solution notebooks and compare every output with the stored one
	$(NBVAL)

notebooks: venv data ## (maintainers) re-execute solutions/notebooks from their .py sources and store the outputs
	$(PY) solutions/notebooks/build.py

demo: venv data ## the whole pipeline with your code, saves the model (CODE=auto|mine|reference, DATASET=...)
	$(PY) -m commands.demo --dataset $(DATASET) --code $(CODE)

# Exit status 2 from recommend and similar is a refused request (an unknown or ambiguous title,
# an unknown genre, a genre both loved and hated, no saved model) whose reason is already on
# stderr: the recipe ends there quietly rather than under make's "*** ... Error 2" line, which
# reads like a crash. Any other failure still fails the target. Scripts that need the status
# of a refusal call `python -m commands.recommend` (or commands.similar) directly. MODELS=folder
# answers from the models saved there instead of outputs/models.
recommend: venv ## a top 10 from the saved model: LIKES="toy story; finding nemo" LOVES=Animation HATES=Horror
	@$(PY) -m commands.recommend --likes "$(LIKES)" --loves "$(LOVES)" --hates "$(HATES)" $(if $(NAME),--name "$(NAME)") \
		$(if $(MODELS),--models "$(MODELS)") || [ $$? -eq 2 ]

similar: venv ## the movies nearest to one, from the saved model: TITLE="matrix"
	@$(PY) -m commands.similar --title "$(TITLE)" $(if $(MODELS),--models "$(MODELS)") || [ $$? -eq 2 ]

bench: venv ## speed and memory of every stage at ml-latest-small and ML-32M size (synthetic), outputs/bench.json
	$(PY) -m benchmarks.bench

figures: venv ## (maintainers) publish outputs/demo.json (CODE=reference) and bench.json as docs/figures.md
	$(PY) -m commands.figures --publish
