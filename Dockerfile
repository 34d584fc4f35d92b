# The lead router with the example rules; mount your own rules at /srv/rules.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ROUTER_RULES_DIR=/srv/rules

WORKDIR /srv
COPY pyproject.toml README.md ./
COPY router ./router
RUN pip install --no-cache-dir .
COPY rules ./rules

RUN useradd --system --uid 10001 router
USER router
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["router", "serve", "--rules", "/srv/rules", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
