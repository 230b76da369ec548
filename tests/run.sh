#!/usr/bin/env bash
# The test suite, on any machine with the toolchains (Rust, Go, Python, Java/Maven) and root:
# installs or builds every server the tests start (once; cached outside the checkout, keyed by
# version or content), then runs `cargo test --workspace`. Extra arguments go to cargo test,
# e.g. `bash tests/run.sh -p dataplane --test crash`.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
mkdir -p "$CACHE"
# Build artefacts are reused across clean clones; cargo's fingerprints keep them correct.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

started=$(date +%s)
step() { echo "==> $* ($(( $(date +%s) - started ))s)"; }

step "S3-compatible server: moto (PyPI)"
MOTO_VERSION=5.2.1
if ! python3 -c "import moto, flask, flask_cors; assert moto.__version__ == '$MOTO_VERSION'" 2>/dev/null; then
    python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
fi
if ! command -v moto_server >/dev/null 2>&1; then
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
if ! command -v moto_server >/dev/null 2>&1; then
    export HYDRANT_TEST_MOTO_SERVER="$CACHE/moto_server"
    printf '#!/bin/sh\nexec python3 -m moto.server "$@"\n' > "$HYDRANT_TEST_MOTO_SERVER"
    chmod +x "$HYDRANT_TEST_MOTO_SERVER"
fi

step "pyarrow (PyPI): the independent Parquet reader of the conversion tests"
PYARROW_VERSION=22.0.0
if ! python3 -c "import pyarrow; assert pyarrow.__version__ == '$PYARROW_VERSION'" 2>/dev/null; then
    python3 -m pip install --quiet "pyarrow==$PYARROW_VERSION"
fi

step "Unmodified Firehose clients: boto3 and the AWS CLI (PyPI, their own virtualenv, cached by version)"
HYDRANT_TEST_AWS_CLIENTS="$(bash tests/aws-clients/build.sh | tail -n 1)"
export HYDRANT_TEST_AWS_CLIENTS

step "Prometheus and promtool (Debian package prometheus)"
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; }
fi

step "PostgreSQL (Debian package postgresql)"
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null; }
fi
ls -d /usr/lib/postgresql/*/bin

step "OpenSearch 2.19 node from Maven Central (cached by content hash)"
HYDRANT_TEST_OPENSEARCH="$(bash tests/opensearch/build.sh | tail -n 1)"
export HYDRANT_TEST_OPENSEARCH

step "Kinesis Data Streams server: kinesalite from the npm registry (cached by version)"
HYDRANT_TEST_KINESALITE="$(bash tests/kinesalite/build.sh | tail -n 1)"
export HYDRANT_TEST_KINESALITE

step "Apache Kafka 4.4 broker (KRaft) from Maven Central (cached by content hash)"
HYDRANT_TEST_KAFKA="$(bash tests/kafka/build.sh | tail -n 1)"
export HYDRANT_TEST_KAFKA

step "Splunk HEC receiver: OpenTelemetry Collector splunkhec receiver from Go modules (cached by content hash)"
HYDRANT_TEST_SPLUNK_HEC="$(bash tests/splunk-hec/build.sh | tail -n 1)"
export HYDRANT_TEST_SPLUNK_HEC

step "Kubernetes control plane and helm, built from their Go modules (cached by version)"
HYDRANT_K8S_TOOLS="$(bash tests/k8s-tools/build.sh | tail -n 1)"
export HYDRANT_K8S_TOOLS
ls "$HYDRANT_K8S_TOOLS"

step "A real node: containerd, runc, CNI plugins, buildah (Debian packages)"
bash tests/k8s-node/install-packages.sh

step "A real node: kubelet, kube-scheduler, kube-proxy, kubectl, CoreDNS, metrics-server from their Go modules (cached by version)"
HYDRANT_K8S_NODE="$(bash tests/k8s-node/build.sh | tail -n 1)"
export HYDRANT_K8S_NODE

step "Container images: release binaries into OCI archives with buildah (cached by input)"
HYDRANT_IMAGES="$(bash images/build.sh | tail -n 1)"
export HYDRANT_IMAGES
ls -l "$HYDRANT_IMAGES"

step "tests"
cargo test --workspace --locked "$@"

step "done"
