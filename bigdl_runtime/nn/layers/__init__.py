"""Every layer of the runtime (importing this package registers them for the model loader).

Each module of this package defines a family of layers; every public ``Module``
subclass defined in one is exported here, so adding a layer file is all it takes.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..module import Module

__all__: list[str] = []
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name, _value in vars(_module).items():
        if (isinstance(_value, type) and issubclass(_value, Module) and not _name.startswith("_")
                and _value.__module__ == _module.__name__):
            globals()[_name] = _value
            __all__.append(_name)
__all__.sort()
