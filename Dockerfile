# ewe: one image for `ewe run` (the embedded broker, a worker, the HTTP ingest, the center and
# /metrics), `ewe worker --broker kafka://HOST:9092` and `ewe center`.
#   docker build -t ewe .
#   docker run -p 8080:8080 ewe                   # add `--demo` for a simulated city
# The base is named by tag: pin it by digest where you build (docker buildx imagetools inspect
# python:3.11-slim-bookworm) with --build-arg PYTHON=python:3.11-slim-bookworm@sha256:<digest>.
ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# The dependencies first, exactly as locked: this layer changes only with the lock.
COPY requirements.lock ./
RUN python -m venv /opt/ewe \
    && /opt/ewe/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY streams ./streams
COPY center ./center
COPY ewe ./ewe
COPY rules ./rules
RUN /opt/ewe/bin/pip install --no-deps --no-build-isolation .

FROM ${PYTHON}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/ewe/bin:$PATH \
    EWE_HEALTH_URL=http://127.0.0.1:8080/healthz
COPY --from=build /opt/ewe /opt/ewe
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/ewe --create-home ewe
USER 10001:10001
WORKDIR /var/lib/ewe
VOLUME /var/lib/ewe
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["ewe", "health"]
ENTRYPOINT ["ewe"]
CMD ["run", "--http", "0.0.0.0:8080", "--data-dir", "/var/lib/ewe/data"]
