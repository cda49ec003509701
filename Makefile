PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= configs/default.toml
OUT    ?= runs/default

.PHONY: install run test report-all bench bench-serving robustness clean

$(BIN)/cinesense: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/cinesense

run: install
	@fonts=""; [ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || fonts=" fonts-noto-color-emoji"; \
	[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || fonts="$$fonts fonts-noto-cjk"; \
	[ -f /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf ] || fonts="$$fonts fonts-symbola"; \
	if [ -n "$$fonts" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$fonts) >/dev/null 2>&1 || \
	  echo "note: could not install$$fonts. Without fonts-noto-color-emoji the emoji corpus has the OpenMoji style only (other figures than the README); without fonts-noto-cjk Chinese in figures shows as boxes"; fi
	$(BIN)/cinesense weights fetch
	$(BIN)/python -m cinesense.data.emoji_render fetch  # extra emoji styles from pinned npm packages (skipped without npm)
	$(BIN)/cinesense reproduce --config $(CONFIG) --out $(OUT) --overwrite

test: install
	$(BIN)/python -m pytest -m "not slow or browser"

report-all: install  # the default corpus, the sticker model (test split + leave-one-style-out), MVSA-Single, Douban and default-to-Douban transfer (needs ../shared/data) in one report: runs/all/report.md
	$(BIN)/cinesense weights fetch
	$(BIN)/python -m cinesense.data.emoji_render fetch
	$(BIN)/cinesense reproduce --config configs/default.toml --config configs/emoji.toml --config configs/mvsa.toml --config configs/douban.toml --config configs/transfer.toml --out runs/all --overwrite

bench: install
	$(BIN)/python bench/text_accuracy.py
	$(BIN)/python bench/text_throughput.py

bench-serving: install
	$(BIN)/python bench/serve_load.py --model $(OUT)/text_model
	$(BIN)/python bench/predict_file.py --model $(OUT)/text_model

robustness: install  # property tests + Schemathesis with a larger budget (FUZZ_EXAMPLES): runs/robustness/report.md
	$(BIN)/python bench/robustness.py --examples $(or $(FUZZ_EXAMPLES),1000)

clean:
	rm -rf $(VENV) runs build src/*.egg-info
