"""Benchmark our numpy kernels against PyTorch's CPU kernels (forward + backward).

Kept as the entry point the runtime-core issue names; the cases now live in
:mod:`scripts.bench.kernels` and this is ``python -m scripts.bench --sections kernels``.

    python scripts/bench_kernels.py            # ResNet-18 conv layers at batch 32 @ 224x224,
                                               # plus linear, batch norm, max pool and LSTM rows
    python scripts/bench_kernels.py --quick    # batch 4
    python scripts/bench_kernels.py --json out.json --only conv3x3
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench.run import main  # noqa: E402

if __name__ == "__main__":
    main(["--sections", "kernels", *sys.argv[1:]])
