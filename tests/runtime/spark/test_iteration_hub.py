"""The per-iteration hub on the driver: fetch the published snapshot, push gradients, partition-order sums,
fp16, refusals (another iteration, a wrong size, a stranger) and a missing gradient."""
from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bigdl_runtime.spark.allreduce import Contribution
from bigdl_runtime.spark.iteration_hub import HubWeights, IterationHub


@pytest.fixture
def hub():
    found = IterationHub("127.0.0.1", size=1000, num_partitions=3)
    yield found
    found.close()


def contribution(rng: np.random.Generator, partition: int, size: int = 1000) -> Contribution:
    return Contribution(partition, rng.standard_normal(size).astype(np.float32), rng.standard_normal(4),
                        0.1 * (partition + 1), partition + 1)


def test_fetch_reads_the_published_snapshot_into_the_replica(hub, rng):
    weights, buffers, batch = rng.standard_normal(1000).astype(np.float32), np.arange(4, dtype=np.float32), \
        np.array([5, 1, 9], np.int64)
    hub.publish(7, weights, buffers, batch)
    weights_then = weights.copy()
    weights += 1.0                                             # the driver's optimizer moves on: a snapshot
    out = np.zeros(1000, np.float32)
    got_buffers, got_batch = hub.client.fetch(7, out)
    np.testing.assert_array_equal(out, weights_then)
    np.testing.assert_array_equal(got_buffers, buffers)
    np.testing.assert_array_equal(got_batch, batch)


def test_pushed_gradients_are_summed_in_partition_order_whatever_the_arrival_order(hub, rng):
    hub.publish(1, np.zeros(1000, np.float32), np.zeros(3, np.float32), np.arange(6))
    parts = [contribution(rng, p) for p in range(3)]
    with ThreadPoolExecutor(3) as pool:                        # concurrent pushes, in reverse order
        results = list(pool.map(lambda c: hub.client.deliver(1, c), parts[::-1]))
    assert all(r.grad is None for r in results)               # the job's result no longer carries the gradient
    reduced = hub.reduced(results)
    expected = parts[0].grad.copy()
    expected += parts[1].grad
    expected += parts[2].grad
    np.testing.assert_array_equal(reduced.grad, expected)
    np.testing.assert_allclose(reduced.extras, parts[0].extras + parts[1].extras + parts[2].extras, rtol=1e-15)
    assert reduced.samples == 6 and reduced.compute_seconds == pytest.approx(0.3)


def test_a_retried_push_replaces_the_first_and_a_missing_one_fails_the_iteration(hub, rng):
    hub.publish(2, np.zeros(1000, np.float32), np.zeros(0, np.float32), np.arange(3))
    parts = [contribution(rng, p) for p in range(3)]
    hub.client.deliver(2, parts[0])
    hub.client.deliver(2, parts[0])                            # a re-run attempt pushes the same partition
    hub.client.deliver(2, parts[2])
    with pytest.raises(RuntimeError, match=r"iteration 2: the job ended without the gradients of partitions \[1\]"):
        hub.reduced([p._replace(grad=None) for p in parts])
    hub.client.deliver(2, parts[1])
    np.testing.assert_array_equal(hub.reduced(parts).grad, parts[0].grad + parts[1].grad + parts[2].grad)


def test_fp16_pushes_are_summed_in_float32(rng):
    hub = IterationHub("127.0.0.1", size=500, num_partitions=2, compress="fp16")
    try:
        hub.publish(1, np.zeros(500, np.float32), np.zeros(0, np.float32), np.arange(2))
        parts = [contribution(rng, p, 500) for p in range(2)]
        reduced = hub.reduced([hub.client.deliver(1, c) for c in parts])
        assert reduced.grad.dtype == np.float32
        expected = parts[0].grad.astype(np.float16).astype(np.float32) + parts[1].grad.astype(np.float16)
        np.testing.assert_array_equal(reduced.grad, expected)
        assert not np.array_equal(reduced.grad, parts[0].grad + parts[1].grad)
    finally:
        hub.close()


def test_requests_for_another_iteration_or_of_a_wrong_size_are_refused(hub, rng):
    hub.publish(3, np.zeros(1000, np.float32), np.zeros(0, np.float32), np.arange(3))
    with pytest.raises(RuntimeError, match="iteration 2, partition 0: .* refused: the driver is at iteration 3"):
        hub.client.fetch(2, np.zeros(1000, np.float32))
    with pytest.raises(RuntimeError, match="the driver is at iteration 3, not 4"):
        hub.client.deliver(4, contribution(rng, 0))
    with pytest.raises(RuntimeError, match="a gradient of 400 bytes, expected 4000"):
        hub.client.deliver(3, contribution(rng, 1, size=100))
    with pytest.raises(RuntimeError, match="partition 5 outside 0..2"):
        hub.client.deliver(3, contribution(rng, 5))
    with pytest.raises(RuntimeError, match="publishes 1000 weights, this task's replica has 10"):
        hub.client.fetch(3, np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="contiguous float32 vector, got float64"):
        hub.client.fetch(3, np.zeros(1000, np.float64))


def test_a_client_without_the_token_gets_nothing(hub):
    hub.publish(1, np.ones(1000, np.float32), np.zeros(0, np.float32), np.arange(3))
    stranger = HubWeights(hub.client.address, "not-the-token")
    with pytest.raises(ConnectionError, match="closed the connection"):
        stranger.fetch(1, np.zeros(1000, np.float32))


def test_an_unreachable_hub_names_its_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                               # bound, not listening: refused
        client = HubWeights(("127.0.0.1", port), "t")
        with pytest.raises(ConnectionError, match=f"cannot reach the driver's parameter hub at 127.0.0.1:{port}"):
            client.fetch(1, np.zeros(3, np.float32))


def test_the_hub_binds_one_address_and_tells_the_tasks_another(rng):
    """As with ``spark.driver.bindAddress``: listen on every interface, advertise the address executors use."""
    found = IterationHub("127.0.0.1", size=10, num_partitions=1, bind="0.0.0.0")
    try:
        assert found.client.address[0] == "127.0.0.1"
        assert found._server._server.getsockname()[0] == "0.0.0.0"
        found.publish(1, np.arange(10, dtype=np.float32), np.zeros(0, np.float32), np.arange(1))
        out = np.zeros(10, np.float32)
        found.client.fetch(1, out)
        np.testing.assert_array_equal(out, np.arange(10))
    finally:
        found.close()


def test_driver_address_takes_the_bind_address_when_spark_has_one():
    from types import SimpleNamespace

    from pyspark import SparkConf

    from bigdl_runtime.spark.driver_server import driver_address

    def session(**settings: str) -> SimpleNamespace:
        conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
        return SimpleNamespace(sparkContext=SimpleNamespace(getConf=lambda: conf))

    assert driver_address(session(**{"spark.driver.host": "driver.svc", "spark.driver.bindAddress": "10.1.2.3"})) \
        == ("driver.svc", "10.1.2.3")
    assert driver_address(session(**{"spark.driver.host": "driver.svc"})) == ("driver.svc", "driver.svc")
