"""`make demo`: the main job, `zoo finetune`, with its embedded defaults.

Fine-tunes the catalog's LeNet-5 (pretrained on Fashion-MNIST) on the bundled
MNIST digit images (data/mnist-digits: 240 training and 160 held-out PNGs)
through Spark on local[*]: a new head on the frozen backbone, then end-to-end
fine-tuning, compared with the same network trained from scratch for the same
number of epochs. Writes the fine-tuned model, the fitted Spark ML stage and
the training curves to runs/demo. Extra arguments go to `zoo finetune`
(e.g. `--epochs 2`, `--images hdfs://...`, `--master spark://...`).
"""
from __future__ import annotations

import sys

from zoo.cli import main

DEFAULTS = ["finetune", "--master", "local[*]", "--output", "runs/demo"]

if __name__ == "__main__":
    sys.exit(main([*DEFAULTS, *sys.argv[1:]]))
