#!/usr/bin/env bash
# Regenerate zoo/importers/caffe/caffe_subset_pb2.py(i) from caffe_subset.proto (commit the result).
# Needs grpcio-tools (python -m grpc_tools.protoc) whose bundled protoc matches the protobuf
# runtime pinned in pyproject; PYTHON defaults to the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
"$PYTHON" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. zoo/importers/caffe/caffe_subset.proto
echo "generated zoo/importers/caffe/caffe_subset_pb2.py ($("$PYTHON" -m grpc_tools.protoc --version))"
