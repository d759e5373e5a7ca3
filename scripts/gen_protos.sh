#!/usr/bin/env bash
# Regenerate the committed protobuf modules (*_pb2.py and *.pyi) from their .proto files:
# our model file format and the subset of Caffe's schema the Caffe importer reads.
# Needs grpcio-tools (python -m grpc_tools.protoc) whose bundled protoc matches the protobuf
# runtime pinned in pyproject; PYTHON defaults to the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
for proto in bigdl_runtime/serialization/model.proto zoo/importers/caffe/caffe_subset.proto; do
    "$PYTHON" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. "$proto"
    echo "generated ${proto%.proto}_pb2.py ($("$PYTHON" -m grpc_tools.protoc --version))"
done
