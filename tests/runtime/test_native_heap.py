"""retain_freed_memory: a loop of multi-MB temporaries stops having the kernel map fresh pages for every item."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

from bigdl_runtime import native_heap

GLIBC = hasattr(ctypes.CDLL(None), "gnu_get_libc_version")

#: three 3.2 MB arrays alive at once, freed together (the pattern of decoding and preprocessing one photo), 50 times;
#: prints the page faults of the 50 rounds after one warm-up round
_LOOP = """
import json, resource, sys
import numpy as np
from bigdl_runtime.native_heap import retain_freed_memory
kept = retain_freed_memory() if sys.argv[1] == "retain" else None
def item():
    a = np.ones(800_000, np.float32); b = a + 1; c = b * 2
    return float(c[0])
item()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    item()
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _run(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in native_heap.GLIBC_VARIABLES}
    out = subprocess.run([sys.executable, "-c", _LOOP, mode], env={**clean, **env}, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc thresholds")
def test_retained_memory_is_reused_without_page_faults() -> None:
    plain = _run("plain")
    kept = _run("retain")
    assert kept["kept"] is True
    assert plain["faults"] > 20_000          # ~2,300 fresh pages per round with glibc's default thresholds
    assert kept["faults"] < 1_000            # the freed arrays' memory is reused


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc thresholds")
def test_the_users_glibc_variables_stand() -> None:
    found = _run("retain", MALLOC_TRIM_THRESHOLD_="1048576")
    assert found["kept"] is False            # nothing changed: the environment's threshold is the user's choice


def test_one_call_per_process(monkeypatch) -> None:
    monkeypatch.setattr(native_heap, "_result", [])
    first = native_heap.retain_freed_memory()
    assert native_heap._result == [first]
    assert native_heap.retain_freed_memory() is first
    assert first is (GLIBC and not any(v in os.environ for v in native_heap.GLIBC_VARIABLES))


def test_decoding_an_image_retains_freed_memory() -> None:
    code = ("import io, numpy as np\nfrom PIL import Image\nfrom bigdl_runtime import native_heap\n"
            "from zoo.feature.image.decode import decode_image\n"
            "buf = io.BytesIO(); Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format='PNG')\n"
            "assert native_heap._result == []\ndecode_image(buf.getvalue(), 'x.png')\nprint(native_heap._result)")
    clean = {k: v for k, v in os.environ.items() if k not in native_heap.GLIBC_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str([GLIBC])


def test_a_preprocessing_chain_retains_freed_memory() -> None:
    code = ("import numpy as np\nfrom bigdl_runtime import native_heap\nfrom zoo.feature.image import CenterCrop\n"
            "assert native_heap._result == []\nCenterCrop(2, 2)(np.zeros((4, 4, 3), np.uint8))\n"
            "print(native_heap._result)")
    clean = {k: v for k, v in os.environ.items() if k not in native_heap.GLIBC_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str([GLIBC])
