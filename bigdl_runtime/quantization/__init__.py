"""Post-training int8 quantisation (:func:`quantize`) and its calibration methods."""
from .calibration import METHODS
from .quantizer import quantize

__all__ = ["METHODS", "quantize"]
