# optbox: `make run` installs and solves example instances; `make test` installs and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-slow lint bench clean

$(BIN)/optbox: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,peers]'
	@echo "optbox: compiling the numba kernels once into their on-disk cache (a few minutes)"
	$(BIN)/optbox warmup --quiet
	touch $(BIN)/optbox

install: $(BIN)/optbox

run: install
	$(BIN)/optbox solve instances/berlin52.tsp instances/X-n101-k25.vrp instances/knapsack30.lp \
		instances/ot_random60.npz instances/poisson48_obstacle.npz instances/diabetes_lasso.npz \
		instances/sem6.csv --time-limit 10 --seed 0 --output run-results.json

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check problems solvers learned optbox benchmarks tests

bench: install
	$(BIN)/optbox bench all --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache run-results.json
