"""Module, Parameter and Sequential: registration, traversal, state, freezing, flat view."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, Module, Parameter, Sequential
from bigdl_runtime.nn import init, random
from tests.helpers.gradcheck import check_module


class Affine(Module):
    """y = x * scale + shift, per feature (a tiny layer for testing the base class)."""

    def __init__(self, features: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.features = features
        self.scale = Parameter(init.normal((features,), 1.0, 0.1))
        self.shift = Parameter(init.zeros((features,)))
        self.register_buffer("calls", np.zeros((), np.int64))

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls[...] += 1
        return x * self.scale.data + self.shift.data, x

    def backward_pass(self, grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
        self.scale.grad += (grad_output * x).sum(axis=0)
        self.shift.grad += grad_output.sum(axis=0)
        return grad_output * self.scale.data

    def get_config(self) -> dict:
        return {"features": self.features}


def test_subclasses_register_by_name_and_alias() -> None:
    assert LAYER_REGISTRY["Affine"] is Affine
    assert LAYER_REGISTRY["Sequential"] is Sequential
    assert LAYER_REGISTRY["Chain"] is Sequential


def test_named_parameters_follow_child_names() -> None:
    net = Sequential(Affine(3, name="a"), Affine(3))
    assert [k for k, _ in net.named_parameters()] == ["a.scale", "a.shift", "1.scale", "1.shift"]
    assert [k for k, _ in net.named_buffers()] == ["a.calls", "1.calls"]
    assert net.num_parameters() == 12


def test_sequential_gradients_match_finite_differences(rng: np.random.Generator) -> None:
    random.manual_seed(0)
    check_module(Sequential(Affine(4), Affine(4)), [rng.standard_normal((5, 4))])


def test_backward_before_forward_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"Affine\('lonely'\): backward called before forward"):
        Affine(2, name="lonely").backward(np.ones((1, 2)))


def test_gradients_accumulate_until_zero_grad(rng: np.random.Generator) -> None:
    layer = Affine(2)
    x = rng.standard_normal((3, 2)).astype(np.float32)
    for _ in range(2):
        layer.forward(x)
        layer.backward(np.ones_like(x))
    np.testing.assert_allclose(layer.shift.grad, [6.0, 6.0])
    layer.zero_grad()
    assert not layer.shift.grad.any()


def test_state_dict_round_trip_and_errors() -> None:
    random.manual_seed(1)
    a, b = Sequential(Affine(3)), Sequential(Affine(3))
    a.forward(np.ones((1, 3), np.float32))
    b.load_state_dict(a.state_dict())
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)
    assert b.state_dict()["0.calls"] == 1
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"0.scale": np.ones(3)})
    bad = a.state_dict()
    bad["0.scale"] = np.ones(4)
    with pytest.raises(ValueError, match=r"'0.scale' has shape \(3,\), got \(4,\)"):
        b.load_state_dict(bad)


def test_load_state_dict_replaces_a_numpy_scalar_buffer() -> None:
    """A per-tensor scale kept as a numpy scalar cannot be written into; loading replaces it, keeping its type."""
    class Scaled(Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("scale", np.float32(0.5))
            self.register_buffer("shift", np.zeros(3, np.float32))

        def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, None]:
            return x * self.scale + self.shift, None

    net = Scaled()
    net.load_state_dict({"scale": np.float64(0.25), "shift": np.ones(3)})
    assert isinstance(net.scale, np.float32) and net.scale == np.float32(0.25)
    assert net.state_dict()["scale"] == np.float32(0.25)
    np.testing.assert_array_equal(net.forward(np.ones(3, np.float32)), np.full(3, 1.25, np.float32))
    with pytest.raises(ValueError, match="'scale' has shape"):
        net.load_state_dict({"scale": np.ones(2), "shift": np.ones(3)})


def test_freeze_by_name_and_unknown_name() -> None:
    net = Sequential(Affine(2, name="backbone"), Affine(2, name="head"))
    net.freeze("backbone")
    assert [p.trainable for p in net.parameters()] == [False, False, True, True]
    assert len(net.parameters(trainable_only=True)) == 2
    net.unfreeze()
    assert all(p.trainable for p in net.parameters())
    with pytest.raises(KeyError, match="no parameters under 'neck'"):
        net.freeze(["neck"])


def test_flat_parameter_view_is_shared_with_layers() -> None:
    net = Sequential(Affine(3, name="a"), Affine(3, name="b"))
    net.freeze("a")
    before = [p.data.copy() for p in net.parameters(trainable_only=True)]
    flat_w, flat_g = net.flatten_parameters()
    assert flat_w.shape == (6,) and flat_w.dtype == np.float32
    np.testing.assert_array_equal(flat_w, np.concatenate([b.ravel() for b in before]))
    flat_w[:] = 7.0
    assert (net["b"].scale.data == 7.0).all() and (net["b"].shift.data == 7.0).all()
    assert not (net["a"].scale.data == 7.0).any()
    net.forward(np.ones((1, 3), np.float32))
    net.backward(np.ones((1, 3), np.float32))
    np.testing.assert_allclose(flat_g, net["b"].scale.grad.tolist() + net["b"].shift.grad.tolist())


def test_astype_and_train_eval_modes() -> None:
    net = Sequential(Affine(2), Affine(2))
    net.astype(np.float64)
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.evaluate() is net and not any(m.training for m in net.modules())
    assert all(m.training for m in net.train().modules())


def test_sequential_rejects_non_modules_and_duplicate_names() -> None:
    with pytest.raises(TypeError, match="Sequential takes Modules"):
        Sequential(lambda x: x)
    with pytest.raises(ValueError, match="already has a child named 'x'"):
        Sequential(Affine(1, name="x"), Affine(1, name="x"))


def test_initializers_follow_pytorch_bounds() -> None:
    random.manual_seed(3)
    w = init.default_weight((64, 32, 3, 3))
    assert w.dtype == np.float32
    bound = 1.0 / np.sqrt(32 * 9)  # kaiming_uniform(a=sqrt(5)) reduces to 1/sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(init.xavier_normal((500, 500)).std() - np.sqrt(2 / 1000)) < 2e-3
    assert abs(init.kaiming_normal((400, 200)).std() - np.sqrt(2 / 200)) < 3e-3
    random.manual_seed(3)
    np.testing.assert_array_equal(init.default_weight((64, 32, 3, 3)), w)


def test_a_second_class_cannot_take_a_layer_name_silently(monkeypatch) -> None:
    from bigdl_runtime.nn import ReLU as ours

    monkeypatch.setitem(LAYER_REGISTRY, "ReLU", ours)  # restored after the test, whatever it registered
    with pytest.raises(ValueError, match=r"'ReLU' is taken by bigdl_runtime\.nn\.layers\.activation\.ReLU: "
                                         r"registering tests\.runtime\.nn\.test_module\..*ReLU .*override=True"):
        type("ReLU", (Module,), {"__module__": __name__})  # class ReLU(Module): ...
    assert LAYER_REGISTRY["ReLU"] is ours

    class ReLU(Module, override=True):  # asked for: replaces ours
        pass
    assert LAYER_REGISTRY["ReLU"] is ReLU and ReLU is not ours


def test_an_alias_cannot_take_a_layer_name_either() -> None:
    with pytest.raises(ValueError, match="'Linear' is taken"):
        class AliasProbe(Module):
            aliases = ("Linear",)
    assert "AliasProbe" in LAYER_REGISTRY  # its own name was free (registered before the alias)
    del LAYER_REGISTRY["AliasProbe"]


def test_the_same_class_defined_again_replaces_itself() -> None:
    def define() -> type:
        class Twice(Module):  # same module and qualified name at every call
            pass
        return Twice

    first, second = define(), define()
    assert first is not second and LAYER_REGISTRY["Twice"] is second
    del LAYER_REGISTRY["Twice"]


class _ForwardOnly(Module):
    """A stateful-style module with a forward and no backward."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return 2 * x


def test_a_module_without_backward_says_so() -> None:
    layer = _ForwardOnly()
    np.testing.assert_array_equal(layer(np.ones(2)), [2.0, 2.0])
    with pytest.raises(NotImplementedError, match="_ForwardOnly implements neither backward_pass nor backward"):
        layer.backward(np.ones(2))
    with pytest.raises(NotImplementedError, match="Module implements neither forward_pass nor forward"):
        Module().forward(np.ones(2))
