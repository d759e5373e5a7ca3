#!/usr/bin/env bash
# Regenerate bigdl_runtime/serialization/model_pb2.py(i) from model.proto (commit the result).
# Needs grpcio-tools (python -m grpc_tools.protoc); PYTHON defaults to the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
"$PYTHON" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. bigdl_runtime/serialization/model.proto
echo "generated bigdl_runtime/serialization/model_pb2.py ($("$PYTHON" -m grpc_tools.protoc --version))"
