# ocpp-exporter: `docker build -t ocpp-exporter .` then
#   docker run -p 9000:9000 -p 9430:9430 ocpp-exporter              (serve, embedded defaults)
#   docker run ocpp-exporter simulate --url ws://HOST:9000/ocpp ...  (a simulated fleet)
#   docker run -p 9099:9099 ocpp-exporter pager --listen 0.0.0.0:9099 (the demo pager)
FROM python:3.12.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install . && rm -rf /src/build \
    && mkdir -p /var/lib/ocpp-exporter && chown 65534:65534 /var/lib/ocpp-exporter

WORKDIR /
# nobody: the exporter needs no privileges (its ports are above 1024).
USER 65534:65534
EXPOSE 9000 9430
ENTRYPOINT ["ocpp-exporter"]
CMD ["serve"]
