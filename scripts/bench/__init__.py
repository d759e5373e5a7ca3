"""Benchmarks of the runtime against PyTorch CPU and onnxruntime: ``python -m scripts.bench``.

See :mod:`scripts.bench.run` for the command line; the table sections live in
:mod:`.kernels` (single kernels), :mod:`.steps` (whole training steps),
:mod:`.inference` (forward in evaluation mode) and :mod:`.memory` (peak memory
of a training step, measured in a fresh subprocess per framework).
"""
