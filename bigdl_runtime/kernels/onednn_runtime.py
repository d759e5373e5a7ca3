"""The oneDNN library behind :mod:`.onednn`: loaded with a C signature for every function we call, one CPU
engine and stream per process, the primitive cache, the lock that serialises calls, and what a fork does.

Fork: GNU OpenMP's thread pool belongs to the thread that ran a parallel region and does not survive a fork.
In the child, that thread's next parallel region waits forever for pool threads that no longer exist
(measured: a oneDNN convolution in a child forked after one in the parent hangs, also with a fresh engine,
stream and cache), while any other thread gets a new pool and runs it. So an
``os.register_at_fork`` hook (1) holds the runtime lock across the fork: no oneDNN call is in flight in
another thread, so no lock of ours or of the library is held in the child; (2) in the child, runs the oneDNN
calls of the forking thread, if it had run OpenMP, on a helper thread. The engine, the stream and the compiled
primitives are not reused in the child: it starts with a new engine, stream and primitive cache (a
cached GEMM-based convolution primitive of the parent crashes when run in the child, measured; the
others ran).

Lock: one per process around each call (cache lookup, reorders, executions). The calls share the stream, the
primitive cache and the scratch buffers, and each one already runs on every core through OpenMP, so two
concurrent calls would only oversubscribe the cores; the kernels call oneDNN from one thread (not from the
batch-block workers), so the lock is uncontended in practice. Measured on 2 cores (ResNet 3x3 layers,
depthwise 3x3, forward + backward 30-125 ms): 99-100 % of a call's time is work that needs the lock (the
outputs are allocated outside it), and taking it uncontended costs 0.3 us; it is not split further.
"""
from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from . import threads

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ctypes.c_void_p
_OUT = ctypes.POINTER(ctypes.c_void_p)   # where a function stores a new handle
_DIMS = ctypes.POINTER(ctypes.c_int64)   # const dnnl_dims_t
_INT, _UINT, _SIZE, _FLOAT = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_float


class ExecArg(ctypes.Structure):
    """dnnl_exec_arg_t: an argument index (DNNL_ARG_SRC, ...) and its memory."""
    _fields_ = [("arg", ctypes.c_int), ("memory", P)]


_CONV = [_DIMS, _DIMS, _DIMS, _DIMS]  # strides, dilates, padding_l, padding_r
#: (restype, argtypes) of every function of the C API we call; a status (dnnl_status_t) unless said otherwise
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "dnnl_engine_create": (_INT, [_OUT, _INT, _SIZE]),
    "dnnl_stream_create": (_INT, [_OUT, P, _UINT]),
    "dnnl_stream_wait": (_INT, [P]),
    "dnnl_memory_desc_create_with_tag": (_INT, [_OUT, _INT, _DIMS, _INT, _INT]),
    "dnnl_memory_desc_create_with_strides": (_INT, [_OUT, _INT, _DIMS, _INT, _DIMS]),
    "dnnl_memory_desc_create_submemory": (_INT, [_OUT, P, _DIMS, _DIMS]),
    "dnnl_memory_desc_destroy": (_INT, [P]),
    "dnnl_memory_desc_equal": (_INT, [P, P]),  # 1 when equal, 0 otherwise
    "dnnl_memory_desc_get_size": (_SIZE, [P]),  # bytes
    "dnnl_memory_create": (_INT, [_OUT, P, P, P]),
    "dnnl_memory_destroy": (_INT, [P]),
    "dnnl_memory_set_data_handle": (_INT, [P, P]),
    "dnnl_primitive_create": (_INT, [_OUT, P]),
    "dnnl_primitive_destroy": (_INT, [P]),
    "dnnl_primitive_execute": (_INT, [P, P, _INT, ctypes.POINTER(ExecArg)]),
    "dnnl_primitive_desc_destroy": (_INT, [P]),
    "dnnl_primitive_desc_query": (_INT, [P, _INT, _INT, P]),
    "dnnl_primitive_desc_query_md": (P, [P, _INT, _INT]),  # a descriptor owned by the primitive descriptor
    "dnnl_reorder_primitive_desc_create": (_INT, [_OUT, P, P, P, P, P]),
    "dnnl_post_ops_create": (_INT, [_OUT]),
    "dnnl_post_ops_destroy": (_INT, [P]),
    "dnnl_post_ops_append_eltwise": (_INT, [P, _INT, _FLOAT, _FLOAT]),
    "dnnl_post_ops_append_sum": (_INT, [P, _FLOAT, ctypes.c_int32, _INT]),
    "dnnl_primitive_attr_create": (_INT, [_OUT]),
    "dnnl_primitive_attr_destroy": (_INT, [P]),
    "dnnl_primitive_attr_set_post_ops": (_INT, [P, P]),
    "dnnl_primitive_attr_set_scales_mask": (_INT, [P, _INT, _INT]),  # (attr, argument, mask)
    "dnnl_primitive_attr_set_zero_points_mask": (_INT, [P, _INT, _INT]),
    "dnnl_matmul_primitive_desc_create": (_INT, [_OUT, P, P, P, P, P, P]),
    "dnnl_convolution_forward_primitive_desc_create": (_INT, [_OUT, P, _INT, _INT, P, P, P, P, *_CONV, P]),
    "dnnl_convolution_backward_data_primitive_desc_create": (_INT, [_OUT, P, _INT, P, P, P, *_CONV, P, P]),
    "dnnl_convolution_backward_weights_primitive_desc_create": (_INT, [_OUT, P, _INT, P, P, P, P, *_CONV, P, P]),
    "dnnl_pooling_forward_primitive_desc_create": (_INT, [_OUT, P, _INT, _INT, P, P, _DIMS, *_CONV, P]),
    "dnnl_eltwise_forward_primitive_desc_create": (_INT, [_OUT, P, _INT, _INT, P, P, _FLOAT, _FLOAT, P]),
    "dnnl_binary_primitive_desc_create": (_INT, [_OUT, P, _INT, P, P, P, P]),
    "dnnl_concat_primitive_desc_create": (_INT, [_OUT, P, P, _INT, _INT, ctypes.POINTER(P), P]),
    "dnnl_resampling_forward_primitive_desc_create": (_INT, [_OUT, P, _INT, _INT, P, P, P, P]),
    "dnnl_inner_product_forward_primitive_desc_create": (_INT, [_OUT, P, _INT, P, P, P, P, P]),
}
_STATUS = {1: "out of memory", 2: "invalid arguments", 3: "unimplemented", 4: "last implementation reached",
           5: "runtime error", 6: "not required"}
_CPU_ENGINE, _IN_ORDER_STREAM = 1, 1


def _library_paths() -> list[Path]:
    found = [Path(os.environ["BIGDL_ONEDNN_LIB"])] if os.environ.get("BIGDL_ONEDNN_LIB") else []
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, os.path.join(os.path.expanduser("~"), ".local"))):
        found.append(Path(prefix) / "lib" / "libdnnl.so.3")
    return found


def _load() -> ctypes.CDLL | None:
    """``libdnnl.so.3`` with every function of :data:`SIGNATURES` declared, or None (not installed, turned
    off by ``BIGDL_ONEDNN=0``, or lacking a function: then logged)."""
    if os.environ.get("BIGDL_ONEDNN", "1") == "0":
        return None
    # OpenMP threads sleep as soon as a convolution ends instead of spinning: the batch norms and ReLUs
    # between convolutions run on the kernel worker threads, and a spinning OpenMP thread took a core from
    # them (ResNet-20 step 477-514 ms -> 394-431 ms); read when libgomp loads, so only if nothing loaded it.
    os.environ.setdefault("GOMP_SPINCOUNT", "0")
    for path in _library_paths():
        if not path.is_file():
            continue
        try:
            lib = ctypes.CDLL(str(path))
            for name, (restype, argtypes) in SIGNATURES.items():
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = restype, argtypes
        except (OSError, AttributeError) as err:
            logger.warning("oneDNN at %s is unusable (%s): convolutions stay on the numpy path", path, err)
            continue
        return lib
    return None


def _omp_set_num_threads() -> Callable[[int], Any] | None:
    try:
        fn = ctypes.CDLL("libgomp.so.1").omp_set_num_threads
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], None
    return fn


class Runtime:
    """The loaded library (``lib``, None when unavailable), the engine and stream (created on first use),
    the primitive cache and the scratch buffers of one process, and the lock serialising calls to them."""

    def __init__(self) -> None:
        self.lib = _load()
        self.omp_set = _omp_set_num_threads() if self.lib is not None else None
        self.engine, self.stream = P(), P()
        self.cache: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self.rejected: set[tuple] = set()  # geometries left to the numpy path (not asked again)
        self.scratch: list[np.ndarray] = []
        #: bumped in a forked child: library objects made before (held outside the cache, e.g. by an
        #: inference plan) belong to the parent's engine and must not run here
        self.generation = 0
        self.lock = threading.Lock()
        self._omp_threads: set[int] = set()  # threads that ran oneDNN (so own an OpenMP pool)
        self._stale: int | None = None  # the thread whose OpenMP pool a fork left behind
        self._helper: ThreadPoolExecutor | None = None
        if self.lib is not None:
            os.register_at_fork(before=self.lock.acquire, after_in_parent=self.lock.release,
                                after_in_child=self._after_fork_in_child)

    def call(self, fn: str, *args: Any) -> None:
        """Call a C function returning a status; raise RuntimeError naming it unless it succeeded."""
        status = getattr(self.lib, fn)(*args)
        if status != 0:
            raise RuntimeError(f"oneDNN {fn} failed with status {status} ({_STATUS.get(status, 'unknown')})")

    def destroy(self, handles: list[tuple[str, P]]) -> None:
        """Destroy every (destroy function, handle) pair: all are attempted, the first failure is raised after."""
        error: RuntimeError | None = None
        for fn, handle in handles:
            try:
                self.call(fn, handle)
            except RuntimeError as err:
                error = error or err
        if error is not None:
            raise error

    def ready(self) -> bool:
        """Whether oneDNN runs in this process (the engine and stream are created on first use). The
        caller holds the lock."""
        if self.lib is None:
            return False
        if not self.stream.value:
            self.call("dnnl_engine_create", ctypes.byref(self.engine), _CPU_ENGINE, 0)
            self.call("dnnl_stream_create", ctypes.byref(self.stream), self.engine, _IN_ORDER_STREAM)
        return True

    def run(self, work: Callable[[], T], omp_threads: int = 0) -> T:
        """``work()`` under the lock with OpenMP at ``omp_threads`` threads (0: the kernels' thread count), on
        a thread whose OpenMP pool works (the calling thread, unless a fork left its pool behind: then a
        helper thread)."""
        if self._stale is not None and threading.get_ident() == self._stale:
            if self._helper is None:
                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onednn-after-fork")
            return self._helper.submit(self._locked, work, omp_threads).result()
        return self._locked(work, omp_threads)

    def _locked(self, work: Callable[[], T], omp_threads: int) -> T:
        with self.lock:
            self._omp_threads.add(threading.get_ident())
            if self.omp_set is not None:
                self.omp_set(omp_threads or max(1, threads.block_threads()))
            return work()

    def _after_fork_in_child(self) -> None:
        """Start afresh: a new engine and stream on first use and an empty primitive cache (the parent's
        handles are dropped, not destroyed: their pages stay shared with the parent and untouched). The
        child's only thread is the one that forked: if it ran OpenMP here (or was already stale), its
        oneDNN calls go to a helper thread from now on. The lock taken before the fork is released."""
        self.engine, self.stream = P(), P()
        self.cache = OrderedDict()
        self.scratch = []
        self.generation += 1
        me = threading.get_ident()
        self._stale = me if me in self._omp_threads or me == self._stale else None
        if self._stale is not None:
            logger.debug("forked after running oneDNN: this thread's oneDNN calls run on a helper thread")
        self._omp_threads = set()
        self._helper = None  # its thread did not survive the fork
        self.lock.release()
