# syntax=docker/dockerfile:1
# The anxin image: `anxin serve` by default, any other `anxin` command by argument
# (`docker run … anxin:TAG db upgrade`, `… edge run …`). See docs/deploy.md.
#
#   docker build -t anxin:0.x .
#
# Build stage: the wheel, from the source tree. Runtime stage: that wheel and the
# hash-locked dependencies (requirements/server.txt) installed into /opt/anxin by
# deploy/install.sh — the same script CI installs and tests the wheel with.
# The build stage has a C compiler, so the wheel carries anxin's compiled SM2 verifier
# (setup.py: an optional extension, docs/performance.md "SM2 backend"); the runtime stage
# needs none. requirements/server.txt includes Tongsuo (tongsuopy, SM2 signing and the
# fallback verifier), which has x86_64 wheels only: build this image for linux/amd64.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md LICENSE ./
COPY src ./src
# Build isolation fetches the build backend (setuptools>=77) from the package index.
RUN python -m pip wheel --no-deps -w /dist .

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY deploy/install.sh /tmp/anxin-install/deploy/install.sh
COPY requirements/server.txt /tmp/anxin-install/requirements/server.txt
COPY --from=build /dist /tmp/anxin-install/dist
RUN sh /tmp/anxin-install/deploy/install.sh /opt/anxin /tmp/anxin-install/dist/anxin-*.whl server \
    && rm -rf /tmp/anxin-install \
    && groupadd --system --gid 10001 anxin \
    && useradd --system --uid 10001 --gid anxin --home-dir /var/lib/anxin --no-create-home \
       --shell /usr/sbin/nologin anxin \
    && install -d -o anxin -g anxin -m 0750 /var/lib/anxin

# Configuration is by ANXIN_* variables (docs/live-service.md lists the keys); secrets by
# ANXIN_<KEY>_FILE naming a file (a compose or Kubernetes secret), e.g.
# ANXIN_ADMIN_TOKEN_FILE=/run/secrets/admin_token, ANXIN_DB_FILE=/run/secrets/db_url.
# No secret key (db among them) is set here: a variable and its _FILE together are an
# error. Without either, the database is SQLite in the data volume (the working
# directory): /var/lib/anxin/anxin-data/anxin.sqlite.
ENV PATH=/opt/anxin/bin:$PATH \
    ANXIN_PORT=8080 \
    ANXIN_LOG=info
WORKDIR /var/lib/anxin
VOLUME ["/var/lib/anxin"]
USER 10001:10001
EXPOSE 8080
# No curl in the slim image: Python's urllib, bypassing any HTTP proxy set for the service.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('ANXIN_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["anxin"]
CMD ["serve", "--host", "0.0.0.0"]
