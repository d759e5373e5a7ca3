"""Importers of models trained elsewhere (ONNX, Caffe) into our Graph modules."""
