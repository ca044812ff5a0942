# chatkit-onprem server image.
#
# Two stages: "builder" turns the locked, hash-checked requirement set into wheels
# and a virtualenv; "runtime" copies only that virtualenv onto the same base (no
# compilers, no pip cache, no build context). Nothing is downloaded at run time.
#
# Build arguments:
#   BASE_IMAGE     base with CPython 3.11 on glibc (python3 + venv on PATH). Pinned by
#                  digest; point it at your internal mirror, e.g.
#                  --build-arg BASE_IMAGE=registry.internal/library/python:3.11-slim-bookworm@sha256:...
#   PIP_INDEX_URL  Python package index for the builder (an internal mirror, e.g. devpi/Nexus).
#   PIP_NO_INDEX   "1" to build without any index, from the wheelhouse in dist/wheelhouse
#                  (what scripts/build_image does after scripts/bundle; fully offline).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${BASE_IMAGE} AS builder
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_NO_INDEX=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_INDEX_URL=${PIP_INDEX_URL} \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements/lock.txt requirements/packaging.txt requirements/
COPY chatkit_onprem chatkit_onprem
# The context's dist/wheelhouse (if any) is bind-mounted, never copied into a layer.
# Every dependency is installed by exact version and hash; the project itself last, without deps.
# Bytecode is compiled once with hash-based invalidation: no source mtimes in it (reproducible)
# and nothing to rewrite at run time (read-only root filesystem).
RUN --mount=type=bind,source=.,target=/ctx \
    if [ "${PIP_NO_INDEX}" = "1" ]; then export PIP_NO_INDEX=1; else unset PIP_NO_INDEX; fi \
    && python3 -m venv /opt/chatkit-onprem \
    && /opt/chatkit-onprem/bin/pip install --no-compile --find-links /ctx/dist/wheelhouse \
         --only-binary :all: --require-hashes -r requirements/lock.txt -r requirements/packaging.txt \
    && /opt/chatkit-onprem/bin/pip install --no-compile --no-deps --no-build-isolation --no-index . \
    && /opt/chatkit-onprem/bin/pip uninstall --yes setuptools wheel pip \
    && /opt/chatkit-onprem/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
         /opt/chatkit-onprem/lib \
    && /opt/chatkit-onprem/bin/chatkit-onprem version

FROM ${BASE_IMAGE} AS runtime
ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="chatkit-onprem" \
      org.opencontainers.image.description="Self-hosted, air-gapped ChatKit backend (Litestar + Granian + DuckDB)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Proprietary" \
      org.opencontainers.image.vendor="chatkit-onprem" \
      org.opencontainers.image.source="chatkit-onprem" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# Fixed UID/GID 10001, no login shell, no home outside the data volume. Written
# directly so the base needs no useradd (works on slim and minbase Debian alike).
RUN echo 'chatkit:x:10001:10001:chatkit-onprem:/data:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'chatkit:x:10001:' >> /etc/group \
    && mkdir -p /data /etc/chatkit-onprem \
    && chown 10001:10001 /data \
    && chmod 0750 /data
COPY --from=builder /opt/chatkit-onprem /opt/chatkit-onprem
COPY --chmod=0644 docker/config.yaml /etc/chatkit-onprem/config.yaml
# Read-only root filesystem: no bytecode writes, temp files in /tmp (a tmpfs in the chart),
# all state under /data (the volume). Agents tracing is off in code and here as well.
ENV PATH=/opt/chatkit-onprem/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    TMPDIR=/tmp \
    OPENAI_AGENTS_DISABLE_TRACING=1 \
    CHATKIT_ONPREM_CONFIG=/etc/chatkit-onprem/config.yaml
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Granian handles SIGTERM: the app drains open streams for server.shutdown_grace_seconds,
# checkpoints DuckDB, then exits. No shell in between, so the signal reaches it directly.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os,urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CHATKIT_ONPREM_SERVER__PORT', '8000'), timeout=4)"]
ENTRYPOINT ["chatkit-onprem"]
CMD ["serve"]
