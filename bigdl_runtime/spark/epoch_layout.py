"""The epoch layout of the per-iteration jobs mode: each epoch's batches laid out by one shuffle so that an
iteration reads only its own samples (see the module doc of :mod:`bigdl_runtime.spark.data`)."""
from __future__ import annotations

import functools
import math
from typing import Any, Iterable, Iterator

import numpy as np
from pyspark import RDD, Broadcast
from pyspark.serializers import BatchedSerializer, CPickleSerializer, pack_long

from ..train.trainer import EpochOrder
from .blocks import RECORD_BYTES, Block, Blocks, Piece, identity_partition
from .errors import streamed

class EpochLayout:
    """The training blocks laid out per epoch so that an iteration reads only its own samples (module doc).

    Args:
        blocks: the training blocks, sample ``i`` in partition ``i % N``.
        batch_size: the global batch size ``B``.
        order: the epochs' sample orders (the trainer's, so batches match LocalTrainer's).
        buffer_bytes: a map task writes its buffered pieces to the shuffle whenever
            they reach this many bytes (bounds its memory and every shuffle record).

    Examples:
        >>> layout = EpochLayout(blocks, 32, EpochOrder(blocks.size, seed, True))
        >>> shares = layout.shares(epoch=1, index=0)   # N partitions: batch 0's samples, by id mod N
        >>> shares.mapPartitionsWithIndex(lambda p, pieces: [batch_share(pieces)]).collect()
    """

    def __init__(self, blocks: Blocks, batch_size: int, order: EpochOrder, buffer_bytes: int = RECORD_BYTES) -> None:
        self.blocks, self.batch_size, self.order, self.buffer_bytes = blocks, batch_size, order, buffer_bytes
        self.num_partitions = blocks.num_partitions
        #: iterations (global batches) per epoch
        self.iterations = math.ceil(blocks.size / batch_size)
        self._epoch: int | None = None
        self._shuffled: RDD | None = None
        self._shuffle_id: int | None = None
        self._positions: Broadcast | None = None

    def shares(self, epoch: int, index: int) -> RDD:
        """Batch ``index`` (0-based within ``epoch``) as ``N`` partitions of :data:`Piece` s.

        Partition ``p`` holds the batch's samples with id ``p`` mod ``N``
        (possibly none); a job on it runs ``N`` tasks and reads only their
        shuffle blocks. The epoch's shuffle is set up on the first call for
        ``epoch`` (the previous epoch's files are deleted then); its map stage
        runs within the first job that reads it.
        """
        if not 0 <= index < self.iterations:
            raise ValueError(f"batch index {index} outside the epoch's {self.iterations} batches")
        start = index * self.num_partitions
        return _partitions(self.epoch_rdd(epoch), start, start + self.num_partitions)

    def epoch_rdd(self, epoch: int) -> RDD:
        """The whole layout of ``epoch``: partition ``k*N + p`` holds batch ``k``'s samples with id ``p`` mod ``N``
        (a job over some of its partitions reads only their shuffle blocks). Set up on the first call for
        ``epoch``, as :meth:`shares` says."""
        if epoch != self._epoch:
            self._build(epoch)
        assert self._shuffled is not None
        return self._shuffled

    def unpersist(self) -> None:
        """Delete the current epoch's shuffle files and position broadcast (a later call rebuilds them)."""
        if self._shuffle_id is not None:
            sc = self.blocks.rdd.context
            cleaner = sc._jsc.sc().cleaner()
            if cleaner.isDefined():  # else (spark.cleaner.referenceTracking=false) they go with the application
                cleaner.get().doCleanupShuffle(self._shuffle_id, False)
        if self._positions is not None:
            self._positions.destroy()
        self._epoch = self._shuffled = self._shuffle_id = self._positions = None

    def _build(self, epoch: int) -> None:
        self.unpersist()
        sc = self.blocks.rdd.context
        n = self.blocks.size
        order = self.order(epoch)
        positions = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
        positions[order] = np.arange(n)
        self._positions = sc.broadcast(positions)
        write = functools.partial(_write_pieces, positions=self._positions, batch_size=self.batch_size,
                                  num_partitions=self.num_partitions, buffer_bytes=self.buffer_bytes)
        keyed = self.blocks.rdd.mapPartitions(streamed(write))
        keyed._bypass_serializer = True  # we yield (key, pickled value) byte strings, as RDD.partitionBy does
        jvm = sc._jvm
        pairs = jvm.PairwiseRDD(keyed._jrdd.rdd()).asJavaPairRDD()
        partitioner = jvm.PythonPartitioner(self.iterations * self.num_partitions, id(identity_partition))
        shuffled = pairs.partitionBy(partitioner)
        self._shuffle_id = shuffled.rdd().dependencies().head().shuffleId()
        self._shuffled = RDD(jvm.PythonRDD.valueOfPair(shuffled), sc, BatchedSerializer(CPickleSerializer()))
        self._epoch = epoch


def _write_pieces(records: Iterable[Block], positions: Broadcast, batch_size: int, num_partitions: int,
                  buffer_bytes: int) -> Iterator[bytes]:
    """Map side of the epoch layout: cut each record into pieces by destination ``k*N + id % N``.

    Yields alternating ``pack_long(destination)`` and pickled lists of pieces
    (what Spark's ``PairwiseRDD`` reads); buffered pieces are written whenever
    they reach ``buffer_bytes``.
    """
    where = positions.value
    pickle = CPickleSerializer()
    buckets: dict[int, list[Piece]] = {}
    buffered = 0
    for ids, xs, y in records:
        if not ids.size:
            continue
        pos = where[ids].astype(np.int64)
        destination = pos // batch_size * num_partitions + ids % num_partitions
        by_destination = np.argsort(destination, kind="stable")
        sorted_destination = destination[by_destination]
        starts = np.flatnonzero(np.diff(sorted_destination, prepend=-1))
        for take in np.split(by_destination, starts[1:]):
            piece = (pos[take], ids[take], tuple(x[take] for x in xs), None if y is None else y[take])
            buckets.setdefault(int(destination[take[0]]), []).append(piece)
            buffered += sum(a.nbytes for a in (*piece[:2], *piece[2])) + (0 if y is None else piece[3].nbytes)
        if buffered >= buffer_bytes:
            yield from _flush(buckets, pickle)
            buffered = 0
    yield from _flush(buckets, pickle)


def _flush(buckets: dict[int, list[Piece]], pickle: CPickleSerializer) -> Iterator[bytes]:
    for destination, pieces in buckets.items():
        yield pack_long(destination)
        yield pickle.dumps(pieces)
    buckets.clear()


def _partitions(rdd: RDD, start: int, stop: int) -> RDD:
    """Partitions ``start .. stop-1`` of ``rdd`` as an RDD of their own (a job on it runs only their tasks)."""
    pruning, ranges = _pruning_classes(rdd.context._jvm)
    wanted = ranges(start, stop, 1).toSet()  # a Scala Set[Int] is an Int => Boolean
    pruned = pruning.create(rdd._jrdd.rdd(), wanted)
    return RDD(pruned.toJavaRDD(), rdd.context, rdd._jrdd_deserializer)


#: per gateway (kept referenced, so its id is never reused): (gateway, PartitionPruningRDD, Range.Exclusive)
_PRUNING: dict[int, tuple[Any, Any, Any]] = {}


def _pruning_classes(jvm: Any) -> tuple[Any, Any]:
    """``PartitionPruningRDD`` and ``Range.Exclusive`` of this gateway, looked up once (py4j resolves a
    class name with a round trip per package level: ~4 ms of every iteration job otherwise)."""
    found = _PRUNING.get(id(jvm))
    if found is None:
        found = _PRUNING[id(jvm)] = (jvm, jvm.org.apache.spark.rdd.PartitionPruningRDD,
                                     getattr(jvm.scala.collection.immutable, "Range$Exclusive"))
    return found[1], found[2]


def batch_share(pieces: Iterable[Piece]) -> Block | None:
    """A share's pieces as one record in batch order (by epoch position), or None when there are none."""
    pieces = list(pieces)
    if not pieces:
        return None
    order = np.argsort(np.concatenate([p[0] for p in pieces]))
    ids = np.concatenate([p[1] for p in pieces])[order]
    xs = tuple(np.concatenate([p[2][j] for p in pieces])[order] for j in range(len(pieces[0][2])))
    y = None if pieces[0][3] is None else np.concatenate([p[3] for p in pieces])[order]
    return ids, xs, y

