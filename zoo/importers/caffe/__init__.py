"""Caffe importer: ``load_caffe(prototxt, caffemodel)`` returns one of our Graphs.

See :func:`load_caffe`; the converters of the supported layer types are registered in
:data:`CAFFE` (``CAFFE.supported_names("caffe")`` lists them).
"""
from .context import CAFFE
from .files import CaffeImportError
from .loader import load_caffe

__all__ = ["CAFFE", "CaffeImportError", "load_caffe"]
