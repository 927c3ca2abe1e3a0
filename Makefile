# Transfer Studio — set-up, run, test. Everything installs into .venv from the pinned list.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test screenshots bench bench-accuracy package package-check clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev,package]'
	touch $(STAMP)

run: venv            ## open the app on the bundled demo data
	$(BIN)/transfer-studio gui --demo

test: venv           ## the test suite CI runs (no GPU, no network)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider

screenshots: venv    ## walk the workflow under Xvfb, write docs/screenshots/*.png
	$(BIN)/python tools/screenshots.py

bench: venv          ## speed benchmarks -> benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks

bench-accuracy: venv ## auto recipe vs the ASSETS.md baselines -> benchmarks/ACCURACY.md (~75 min on 2 cores)
	$(BIN)/python -m benchmarks.accuracy

package: venv        ## PyInstaller one-folder build into dist/transfer-studio/
	$(BIN)/python packaging/build.py

package-check:       ## smoke test of the built folder (frozen engine self-test, frozen GUI offscreen)
	$(BIN)/python packaging/smoke_test.py

clean:
	rm -rf build dist .pytest_cache
