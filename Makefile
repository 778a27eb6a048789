# Two commands run the course: `make course` (run every notebook, print times) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup course test lab lint bench notebooks data clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

course: setup  ## execute every notebook in order (copies in build/), print wall time and peak memory
	$(BIN)/python scripts/run_course.py

test: setup lint  ## pytest for helpers, then nbval over every notebook
	$(BIN)/python -m pytest tests
	COURSE_PROGRESS=0 $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=900 --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks

lint: setup
	$(BIN)/ruff check helpers tests scripts notebooks solutions

bench: setup  ## speed checks (mini-MTEB cost, generation tokens/s, word2vec words/s); run on an idle machine
	$(BIN)/python scripts/benchmark_mini_mteb.py; a=$$?; $(BIN)/python scripts/benchmark_generation.py; b=$$?; \
	$(BIN)/python scripts/benchmark_word2vec.py && exit $$((a || b))

lab: setup  ## JupyterLab in the course environment
	$(BIN)/jupyter lab notebooks

notebooks: setup  ## maintainers: re-execute every notebook in place (what gets committed)
	$(BIN)/python scripts/run_course.py --inplace

data: setup  ## regenerate data/synthetic/ with SmolLM2-135M (seeded, progress bars; long on a CPU)
	$(BIN)/python scripts/make_synthetic_data.py

clean:
	rm -rf build .cache
