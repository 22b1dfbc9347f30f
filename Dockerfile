# syntax=docker/dockerfile:1.7
# Rawan API: CPU-only, non-root, no torch. The model is mounted (default) or built into the image:
#   docker build -t rawan .                                   # serve a mounted registry:
#   docker run -p 8000:8000 -v "$PWD/models:/app/models:ro" rawan
#   docker build --build-arg MODEL_STAGE=model-built -t rawan .   # bake the default model in (trains it; slow)
ARG PYTHON=python:3.11-slim-bookworm
ARG MODEL_STAGE=model-mounted

FROM ${PYTHON} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Dependencies first (one cached layer, versions pinned in pyproject.toml), code afterwards.
COPY pyproject.toml README.m[d] ./
RUN python - <<'PY' > /tmp/requirements.txt
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
# openvino too: `rawan quantize` may have chosen it for the mounted model (classifier.json's backend)
print("\n".join(p["dependencies"] + p["optional-dependencies"]["serve"] + p["optional-dependencies"]["openvino"]))
PY
RUN pip install -r /tmp/requirements.txt
COPY model/ model/
COPY serve/ serve/
COPY rawan/ rawan/
COPY seeds/ seeds/
RUN pip install --no-deps .

# Optional: train the default model inside the build (needs the train extra; the final image stays torch-free).
FROM base AS model-built
COPY training/ training/
ENV PYTHONPATH=/app
RUN python - <<'PY' > /tmp/train-requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["train"]))
PY
RUN pip install --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple \
        -r /tmp/train-requirements.txt \
 && rawan train --if-missing --models-dir /app/models

FROM base AS model-mounted
RUN mkdir -p /app/models

FROM ${MODEL_STAGE} AS model

FROM base AS runtime
COPY --from=model /app/models /app/models
RUN useradd --system --uid 10001 --home /app rawan && mkdir -p /app/data && chown -R rawan /app/data
USER rawan
# One process, ORT threads = the container's CPUs (set RAWAN_THREADS to the CPU quota when it is fractional).
ENV RAWAN_HOST=0.0.0.0 RAWAN_PORT=8000 RAWAN_MODELS_DIR=/app/models RAWAN_ANNOTATIONS_DB=/app/data/annotations.db \
    TOKENIZERS_PARALLELISM=false
EXPOSE 8000
VOLUME ["/app/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"RAWAN_PORT\",\"8000\")}/readyz', timeout=2).status == 200 else 1)"
CMD ["rawan", "serve"]
