"""Sequential: a chain of modules, each fed the previous one's output."""
from __future__ import annotations

from typing import Any

from .module import Module


class Sequential(Module):
    """Apply ``modules`` in order; backward runs them in reverse.

    Each call keeps its children's contexts (nothing is kept on the children). A
    module may be a child once; to run one layer at several places use a Graph.

    Children are named ``"0"``, ``"1"``, ... unless a module carries its own
    ``name``, so parameters read ``"0.weight"`` like PyTorch or ``"conv1.weight"``.

    Examples:
        >>> net = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
        >>> y = net(np.zeros((5, 4), np.float32))
    """

    aliases = ("Chain",)

    def __init__(self, *modules: Module, name: str | None = None) -> None:
        super().__init__(name=name)
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "Sequential":
        if not isinstance(module, Module):
            raise TypeError(f"Sequential takes Modules, got {type(module).__name__}")
        if any(m is module for m in self._modules.values()):
            raise ValueError(f"Sequential already holds {module.describe()}; to run one layer at several places "
                             "(weight sharing) use a Graph")
        key = module.name or str(len(self._modules))
        if key in self._modules:
            raise ValueError(f"Sequential already has a child named '{key}'")
        self.add_module(key, module)
        return self

    add = append

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int | str) -> Module:
        if isinstance(index, str):
            return self._modules[index]
        return list(self._modules.values())[index]

    def forward_pass(self, *inputs: Any) -> tuple[Any, list[Any]]:
        out: Any = inputs
        ctxs: list[Any] = []
        for i, m in enumerate(self._modules.values()):
            out, ctx = m.forward_pass(*out) if i == 0 else m.forward_pass(out)
            ctxs.append(ctx)
        return out, ctxs

    def infer(self, *inputs: Any) -> Any:
        """The chain's output with no contexts (each child's ``infer``)."""
        out: Any = inputs
        for i, m in enumerate(self._modules.values()):
            out = m.infer(*out) if i == 0 else m.infer(out)
        return out

    def backward_pass(self, grad_output: Any, ctx: list[Any]) -> Any:
        grad = grad_output
        for m, child_ctx in zip(reversed(self._modules.values()), reversed(ctx)):
            grad = m.backward_pass(grad, child_ctx)
        return grad
