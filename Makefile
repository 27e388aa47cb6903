# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch==2.13.0 resolves to the CPU wheel on this machine's disk; pinning it first keeps
# pip from pulling a multi-GB CUDA build for any other package that asks for torch.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP) $@

# FluidSynth and the General MIDI soundfont render audio; Debian's chromium and its
# driver run the web tests in a real browser. Installed where apt-get is usable (root),
# skipped with a notice elsewhere.
system-deps:
	@if command -v fluidsynth >/dev/null 2>&1 && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] \
		&& command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			fluidsynth fluid-soundfont-gm chromium chromium-driver >/dev/null) \
			|| echo "notice: could not install fluidsynth/chromium; WAV output will be skipped and the browser tests fail"; \
	else \
		echo "notice: fluidsynth or chromium missing (apt-get install fluidsynth fluid-soundfont-gm chromium chromium-driver)"; \
	fi

# The main job on the embedded defaults: chorales from the shipped model, a melody
# harmonized by the shipped melody-aware harmonizer, and a held-out Piano-midi.de piece
# extended by the shipped piano-roll model (MIDI, MusicXML, WAV, PNG each, plus an
# overlay of the true and the model's continuation); the same piece's first 25 notes
# continued by 200 notes of the shipped six-head note model, and its first 4 bars by 8
# bars of the shipped MidiTok transformer; samples and an interpolation from the
# piano-roll VAE, a reconstruction and a sample from the mel VAE; then a tiny chorale
# model trained in two DDP processes, and a 4-trial hyperparameter search (results.csv,
# plots, best.json); the smoke four-way study (demo/study/report.html).
demo: $(STAMP) system-deps
	$(BIN)/cadenza generate --n 4 --seed 1 --temperature 0.9 --out demo/generated
	$(BIN)/cadenza harmonize src/cadenza/examples/twinkle.musicxml --out demo/harmonized
	$(BIN)/cadenza continue src/cadenza/runs/piano-default \
		src/cadenza/examples/piano-midi-test-0000.mid --bars 4 --length 8 --n 1 --seed 1 \
		--out demo/piano
	$(BIN)/cadenza continue src/cadenza/runs/notes-default \
		src/cadenza/examples/piano-midi-test-0000.mid --notes 25 --length 200 --n 1 --seed 1 \
		--out demo/notes
	$(BIN)/cadenza continue src/cadenza/runs/piano-miditok \
		src/cadenza/examples/piano-midi-test-0000.mid --bars 4 --length 8 --n 1 --seed 1 \
		--out demo/miditok
	$(BIN)/cadenza sample src/cadenza/runs/pianoroll-vae --n 4 --seed 1 --out demo/vae
	$(BIN)/cadenza interpolate src/cadenza/runs/pianoroll-vae \
		src/cadenza/examples/nottingham-test-0000.mid \
		src/cadenza/examples/nottingham-test-0001.mid --steps 8 --out demo/vae
	$(BIN)/cadenza reconstruct src/cadenza/runs/mel-vae \
		src/cadenza/examples/jsb-test-0000-strings.wav --out demo/mel
	$(BIN)/cadenza sample src/cadenza/runs/mel-vae --n 2 --seed 1 --out demo/mel
	rm -rf demo/chorales demo/ddp-run demo/search
	$(BIN)/cadenza prepare --corpus bach-chorales --out demo/chorales --jobs 2 --quiet
	$(BIN)/cadenza train --nproc 2 --preset tiny --data demo/chorales --out demo/ddp-run \
		--set train.batch_size=8 --set train.max_steps=40 --set train.eval_every=20 --quiet
	$(BIN)/cadenza search --preset tiny --data demo/chorales --trials 4 --out demo/search \
		--set train.max_steps=40 --set train.eval_every=20
	rm -rf demo/study
	$(BIN)/cadenza study studies/four-way-smoke.toml --out demo/study

test: $(DEV_STAMP) system-deps
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_prepare.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_train_speed.py

clean:
	rm -rf $(VENV) data demo .pytest_cache
