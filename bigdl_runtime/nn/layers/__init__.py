"""Every layer of the runtime (importing this package registers them for the model loader)."""
from .activation import (ELU, GELU, SELU, Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid,
                         Softmax, Softplus, Tanh)
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout
from .elementwise import Add, Div, Mul, Sub
from .embedding import Embedding
from .linear import Linear
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .pad import Pad, ZeroPad2d
from .pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d
from .resize import Upsample
from .rnn import GRU, LSTM, RNN
from .shape import Concat, Flatten, Reshape, Split, Transpose

__all__ = [
    "ELU", "GELU", "SELU", "Hardsigmoid", "Hardswish", "LeakyReLU", "LogSoftmax", "PReLU", "ReLU", "Sigmoid",
    "Softmax", "Softplus", "Tanh", "Conv1d", "Conv2d", "ConvTranspose2d", "Dropout", "Add", "Div", "Mul", "Sub",
    "Embedding", "Linear", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Pad", "ZeroPad2d", "AdaptiveAvgPool2d",
    "AvgPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d", "MaxPool2d", "Upsample", "GRU", "LSTM", "RNN", "Concat",
    "Flatten", "Reshape", "Split", "Transpose",
]
