# perfhub image: the wheel built in a throwaway stage, installed into a slim runtime that runs
# as an unprivileged user. Used by deploy/compose.yaml (`docker build -t perfhub:latest .`).

# --- build: turn the source tree into a wheel --------------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

# --- runtime: only the installed wheel and its dependencies ------------------------------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PERFHUB_VAR_DIR=/var/lib/perfhub
RUN groupadd --system --gid 10001 perfhub \
 && useradd --system --uid 10001 --gid perfhub --home-dir /var/lib/perfhub --create-home perfhub
COPY --from=build /dist/*.whl /tmp/
RUN python -m pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER perfhub:perfhub
WORKDIR /var/lib/perfhub
EXPOSE 8000
# Liveness of the API; the workers are watched through their /metrics port and exit on failure.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["perfhub", "serve", "--host", "0.0.0.0", "--port", "8000"]
