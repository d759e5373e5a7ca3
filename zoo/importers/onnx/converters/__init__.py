"""One module per operator family; each registers its converters with :data:`zoo.importers.onnx.registry.ONNX`.

A converter takes an :class:`~zoo.importers.onnx.context.OnnxNode` and returns the
value of each output: an array (folded at import time) or a graph value made by
``node.apply(layer, inputs)``.
"""
