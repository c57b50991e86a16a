# ewe: the engine, the streaming runtime and the command line. `docker run -p 8080:8080 ewe`
# starts the embedded broker, a worker, the HTTP ingest and /metrics; add `--demo` for a
# simulated city, or `worker --broker kafka://HOST:9092` against a Kafka cluster.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /opt/ewe
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY streams ./streams
COPY ewe ./ewe
COPY rules ./rules
RUN pip install --no-cache-dir -e . && useradd --system --create-home --home /var/lib/ewe ewe
USER ewe
WORKDIR /var/lib/ewe
VOLUME /var/lib/ewe
EXPOSE 8080
ENTRYPOINT ["ewe"]
CMD ["run", "--http", "0.0.0.0:8080", "--data-dir", "/var/lib/ewe/data"]
