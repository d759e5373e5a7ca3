"""docs/caffe-support.md lists exactly the layer types the Caffe importer has converters for."""
from __future__ import annotations

import re
from pathlib import Path

from zoo.importers.caffe import CAFFE

DOC = Path(__file__).parents[4] / "docs" / "caffe-support.md"


def test_support_table_matches_the_registry():
    rows = re.findall(r"^\| `(\w+)` \|", DOC.read_text(), flags=re.M)
    assert sorted(rows) == CAFFE.supported_names("caffe")
