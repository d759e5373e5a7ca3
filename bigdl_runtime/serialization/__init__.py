"""The model file format and trainer state files (protobuf, checksummed, never pickle).

Model files hold the architecture (layer types from the layer registry, their
configs, Sequential children and Graph edges), the weights as raw little-endian
tensors and metadata; state files hold trainer checkpoints. See ``model.proto``.
Generated code: ``model_pb2.py`` (``scripts/gen_protos.sh``; needs protobuf >= 7.35.1 at runtime).
"""
from .framing import FORMAT_VERSION
from .model_file import load_model, model_from_bytes, model_to_bytes, read_metadata, save_model
from .state_file import load_state, save_state, state_from_bytes, state_to_bytes

__all__ = ["FORMAT_VERSION", "load_model", "load_state", "model_from_bytes", "model_to_bytes", "read_metadata",
           "save_model", "save_state", "state_from_bytes", "state_to_bytes"]
