from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data", "scalar")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SCALAR_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    scalar: bool
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ..., scalar: _Optional[bool] = ...) -> None: ...

class NoneValue(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("items", "tuple")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TUPLE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Value]
    tuple: bool
    def __init__(self, items: _Optional[_Iterable[_Union[Value, _Mapping]]] = ..., tuple: _Optional[bool] = ...) -> None: ...

class MapEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: Value
    value: Value
    def __init__(self, key: _Optional[_Union[Value, _Mapping]] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class ValueMap(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[MapEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[MapEntry, _Mapping]]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("none", "bool_value", "int_value", "big_int", "float_value", "string_value", "bytes_value", "list_value", "map_value", "tensor_value")
    NONE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    BIG_INT_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAP_VALUE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_VALUE_FIELD_NUMBER: _ClassVar[int]
    none: NoneValue
    bool_value: bool
    int_value: int
    big_int: str
    float_value: float
    string_value: str
    bytes_value: bytes
    list_value: ValueList
    map_value: ValueMap
    tensor_value: Tensor
    def __init__(self, none: _Optional[_Union[NoneValue, _Mapping]] = ..., bool_value: _Optional[bool] = ..., int_value: _Optional[int] = ..., big_int: _Optional[str] = ..., float_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bytes_value: _Optional[bytes] = ..., list_value: _Optional[_Union[ValueList, _Mapping]] = ..., map_value: _Optional[_Union[ValueMap, _Mapping]] = ..., tensor_value: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("node", "index")
    NODE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    node: str
    index: int
    def __init__(self, node: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class GraphNode(_message.Message):
    __slots__ = ("name", "layer", "inputs", "shares")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    name: str
    layer: Layer
    inputs: _containers.RepeatedCompositeFieldContainer[Edge]
    shares: str
    def __init__(self, name: _Optional[str] = ..., layer: _Optional[_Union[Layer, _Mapping]] = ..., inputs: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ..., shares: _Optional[str] = ...) -> None: ...

class GraphSpec(_message.Message):
    __slots__ = ("inputs", "nodes", "outputs")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedScalarFieldContainer[str]
    nodes: _containers.RepeatedCompositeFieldContainer[GraphNode]
    outputs: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, inputs: _Optional[_Iterable[str]] = ..., nodes: _Optional[_Iterable[_Union[GraphNode, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("type", "name", "config", "children", "graph")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    type: str
    name: str
    config: ValueMap
    children: _containers.RepeatedCompositeFieldContainer[Layer]
    graph: GraphSpec
    def __init__(self, type: _Optional[str] = ..., name: _Optional[str] = ..., config: _Optional[_Union[ValueMap, _Mapping]] = ..., children: _Optional[_Iterable[_Union[Layer, _Mapping]]] = ..., graph: _Optional[_Union[GraphSpec, _Mapping]] = ...) -> None: ...

class NamedTensor(_message.Message):
    __slots__ = ("name", "tensor", "frozen")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    FROZEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    tensor: Tensor
    frozen: bool
    def __init__(self, name: _Optional[str] = ..., tensor: _Optional[_Union[Tensor, _Mapping]] = ..., frozen: _Optional[bool] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("magic", "format_version", "producer", "architecture", "metadata", "weights", "sha256")
    MAGIC_FIELD_NUMBER: _ClassVar[int]
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    magic: str
    format_version: int
    producer: str
    architecture: Layer
    metadata: ValueMap
    weights: _containers.RepeatedCompositeFieldContainer[NamedTensor]
    sha256: bytes
    def __init__(self, magic: _Optional[str] = ..., format_version: _Optional[int] = ..., producer: _Optional[str] = ..., architecture: _Optional[_Union[Layer, _Mapping]] = ..., metadata: _Optional[_Union[ValueMap, _Mapping]] = ..., weights: _Optional[_Iterable[_Union[NamedTensor, _Mapping]]] = ..., sha256: _Optional[bytes] = ...) -> None: ...

class State(_message.Message):
    __slots__ = ("magic", "format_version", "producer", "root", "sha256")
    MAGIC_FIELD_NUMBER: _ClassVar[int]
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    magic: str
    format_version: int
    producer: str
    root: Value
    sha256: bytes
    def __init__(self, magic: _Optional[str] = ..., format_version: _Optional[int] = ..., producer: _Optional[str] = ..., root: _Optional[_Union[Value, _Mapping]] = ..., sha256: _Optional[bytes] = ...) -> None: ...
