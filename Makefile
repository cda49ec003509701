PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/default.toml
OUT    ?= runs/default

.PHONY: install run test bench clean

$(BIN)/cinesense: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/cinesense

run: install
	$(BIN)/cinesense reproduce --config $(CONFIG) --out $(OUT)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/text_accuracy.py
	$(BIN)/python bench/text_throughput.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info
