# syntax=docker/dockerfile:1

# ---------------------------------------------------------------------------
# builder: resolve the locked dependencies into /app/.venv with uv
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder

RUN pip install --no-cache-dir --root-user-action=ignore uv==0.13.8

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# dependencies first: this layer is rebuilt only when the lock file changes
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

COPY api ./api
COPY benchmarks ./benchmarks
COPY graphql_schema ./graphql_schema
COPY resolvers ./resolvers
COPY domain ./domain
COPY jobs ./jobs
COPY integrations ./integrations
COPY admin_spa ./admin_spa
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

# CJK fonts + the pango/harfbuzz libraries WeasyPrint loads for PDF output
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        fonts-noto-cjk \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*

# fixed uid/gid 10001 so bind-mounted /data can be chowned on the host to match
RUN groupadd --gid 10001 mhub \
    && useradd --uid 10001 --gid mhub --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin mhub \
    && mkdir -p /data \
    && chown mhub:mhub /data

WORKDIR /app

# same path as in the builder: the venv's scripts and the project's editable
# install refer to /app
COPY --from=builder /app /app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MHUB_DATA_DIR=/data

VOLUME /data

USER mhub

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["mhub", "serve", "--host", "0.0.0.0", "--port", "8000"]
