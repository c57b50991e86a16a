# ewe: the engine and its command line. The streaming runtime and the operations center will
# join this image; for now it replays and checks rules.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /opt/ewe
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY streams ./streams
COPY ewe ./ewe
COPY rules ./rules
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/ewe ewe
USER ewe
WORKDIR /var/lib/ewe
ENTRYPOINT ["ewe"]
CMD ["--help"]
