#!/usr/bin/env bash
# Unmodified Firehose clients for the control-plane tests: boto3 and the AWS CLI (v1, both from
# PyPI) in a virtualenv of their own (the CLI pins botocore exactly, which must not disturb the
# boto3 that moto uses). Cached by version; prints the venv's bin directory on its last line.
set -euo pipefail
BOTO3_VERSION=1.44.8
AWSCLI_VERSION=1.46.3
CACHE="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
VENV="$CACHE/aws-clients-boto3-$BOTO3_VERSION-awscli-$AWSCLI_VERSION"
if ! "$VENV/bin/python" -c "import boto3; assert boto3.__version__ == '$BOTO3_VERSION'" 2>/dev/null \
    || ! "$VENV/bin/aws" --version >/dev/null 2>&1; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "boto3==$BOTO3_VERSION" "awscli==$AWSCLI_VERSION"
fi
"$VENV/bin/aws" --version >&2
echo "$VENV/bin"
