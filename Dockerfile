# The lienthong image: the API (`lienthong run`), the stream workers (`lienthong stream`) and
# every CLI command, one image for every Deployment of deploy/k8s and service of deploy/compose.yaml.
#   docker build -t lienthong:0.1.0 .
# (Not built in CI: the machines have no container engine; see README "Beyond one machine".)
FROM python:3.11-slim-bookworm

# Printed forms (WeasyPrint) need pango and the DejaVu fonts, as deploy/documents/install.sh installs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fonts-dejavu-extra \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 lienthong
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY projections projections
COPY gateways gateways
RUN pip install --no-cache-dir .

USER 10001
ENV LIENTHONG_DATA_DIR=/var/lib/lienthong \
    LIENTHONG_KEYS_DIR=/etc/lienthong/keys \
    PYTHONUNBUFFERED=1
EXPOSE 8000 9100
ENTRYPOINT ["lienthong"]
CMD ["run", "--no-seed", "--host", "0.0.0.0", "--port", "8000"]
