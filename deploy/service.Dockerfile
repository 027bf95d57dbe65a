# One image per service (and the gateway), built from the workspace lock with only that
# package's dependencies:
#   docker build -f deploy/service.Dockerfile --build-arg PACKAGE=crm-customer \
#     --build-arg MODULE=crm_customer --build-arg PORT=8001 -t crm-customer .
# docker-compose.yml builds all five this way.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ARG PACKAGE
RUN test -n "${PACKAGE}" || (echo "build with --build-arg PACKAGE=crm-<service>" >&2; exit 1)
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Third-party dependencies first, from the lock and the manifests alone: this layer is
# reused until uv.lock or a pyproject.toml changes.
COPY uv.lock pyproject.toml ./
COPY shared/pyproject.toml shared/
COPY services/customer/pyproject.toml services/customer/
COPY services/orders/pyproject.toml services/orders/
COPY services/analytics/pyproject.toml services/analytics/
COPY services/recommend/pyproject.toml services/recommend/
COPY gateway/pyproject.toml gateway/
COPY cli/pyproject.toml cli/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "${PACKAGE}"
# Then the workspace packages themselves, installed (not linked) into the environment.
COPY shared shared
COPY services services
COPY gateway gateway
COPY cli cli
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${PACKAGE}"

FROM python:${PYTHON_VERSION}-slim
ARG MODULE
ARG PORT=8000
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --home-dir /app --shell /usr/sbin/nologin crm \
    && mkdir -p /var/lib/crm/models \
    && chown -R crm:crm /var/lib/crm
COPY --from=build --chown=crm:crm /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SERVICE_MODULE=${MODULE} SERVICE_PORT=${PORT}
USER crm
WORKDIR /app
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SERVICE_PORT\"]}/health', timeout=2)"]
CMD ["sh", "-c", "exec python -m \"$SERVICE_MODULE\""]
