# Two set-up commands: `make run` (set up, build the default model if missing, serve) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: run test install model serve clean-models

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[serve,batch,train,dev]'
	touch $(STAMP)

install: $(STAMP)

model: $(STAMP)
	$(BIN)/rawan train --if-missing

serve: $(STAMP)
	$(BIN)/rawan serve --host $(HOST) --port $(PORT)

run: model serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean-models:
	rm -rf models
