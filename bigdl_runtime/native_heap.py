"""Keep freed native memory for reuse in loops that make multi-MB temporaries per item (glibc's malloc).

glibc serves an allocation above ``M_MMAP_THRESHOLD`` with fresh pages from the
kernel and gives free memory at the top of its heap back to the kernel above
``M_TRIM_THRESHOLD``. Both start low (128 KB); the first grows, up to 32 MB, as
large blocks are freed, and the second follows it at twice its value. A loop
that allocates a few MB of numpy temporaries per item and frees them (decoding
and preprocessing a photo: about 7 MB) frees more than that at the top of the
heap after every item, so the heap is trimmed and the next item's arrays are
faulted in and zeroed by the kernel again: 1,660 page faults per photo,
reading 2,000 photos in one process took 13-15 s instead of 6.2-6.3 s (user
CPU 5.7-6.2 s vs 4.9-5.0 s; ``scripts/bench_image_ingest_spark.py``'s one-process
loop), page faults being costly under a hypervisor.

:func:`retain_freed_memory` sets the two thresholds to where glibc's own adjustment
would end (32 MB) and to 128 MB: blocks up to 32 MB come from the heap, and up to
128 MB of freed heap stays mapped for the next item. The process's peak memory is
unchanged; what it gives back to the system after a peak is what exceeds 128 MB.
It is process-wide, so it is called by the code paths that have such loops (image
decoding, image preprocessing chains: the ImageNet evaluation chain over 300 in-memory
photos took 1.4 s with glibc's defaults and 0.53 s with these), once per process; nothing is changed when the process's environment
sets glibc's own variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_TOP_PAD_``: the user's choice stands) or the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import os

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: largest block served from the heap (glibc's own upper bound for its dynamic threshold on 64-bit systems)
MMAP_THRESHOLD = 32 << 20
#: free memory kept at the top of the heap before it is returned to the system
TRIM_THRESHOLD = 128 << 20
#: environment variables by which a user sets glibc's thresholds (then this module changes nothing)
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_result: list[bool] = []        # the first call's outcome (a forked child inherits it with the settings)


def retain_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module doc) once per process.

    Returns:
        True when this process's thresholds are ours (set now or by an earlier call), False when left as they
        are (the environment sets glibc's variables, or the C library is not glibc).
    """
    if _result:
        return _result[0]
    done = False
    if not any(name in os.environ for name in GLIBC_VARIABLES):
        try:
            libc = ctypes.CDLL(None)
            glibc = hasattr(libc, "gnu_get_libc_version")
            mallopt = libc.mallopt if glibc else None
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                     TRIM_THRESHOLD))
    _result.append(done)
    return done
