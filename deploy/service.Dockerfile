# One image per service, built from the workspace lock with only that package's dependencies:
#   docker build -f deploy/service.Dockerfile --build-arg PACKAGE=crm-customer \
#     --build-arg MODULE=crm_customer --build-arg PORT=8001 -t crm-customer .
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ARG PACKAGE
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${PACKAGE}"

FROM python:${PYTHON_VERSION}-slim
ARG MODULE
ARG PORT=8000
RUN groupadd --system crm && useradd --system --gid crm --home-dir /app crm
COPY --from=build --chown=crm:crm /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 SERVICE_MODULE=${MODULE} SERVICE_PORT=${PORT}
USER crm
WORKDIR /app
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SERVICE_PORT\"]}/health', timeout=2)"
CMD ["sh", "-c", "exec python -m \"$SERVICE_MODULE\""]
