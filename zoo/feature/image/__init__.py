"""Image preprocessing: read labelled images (locally or through Spark) and transform them.

Examples:
    >>> from zoo.feature.image import ImageSet, Resize, CenterCrop, PixelScale, ChannelNormalize, ToTensor
    >>> images = ImageSet.read("hdfs://nn/data/pets", spark)             # label = parent folder
    >>> chain = Resize(256, 256) >> CenterCrop(224, 224) >> PixelScale() >> ToTensor()
    >>> x, y = images.transform(chain).to_arrays()
"""
from .boxes import iou
from .color import ChannelNormalize, ChannelOrder, ColorConvert, ColorJitter, PixelScale, ToTensor
from .decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, BadImageError, decode_image
from .detection import Expand, SSDRandomCrop
from .geometric import AspectScale, CenterCrop, HFlip, RandomCrop, RandomResizedCrop, Resize, Rotate
from .imageset import ImageSet
from .labels import LabelMap
from .reading import ImageReadWarning, ReadReport
from .record import ImageRecord, record_rng
from .transform import TRANSFORMERS, Pipeline, Transformer, transformer_from_config

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "TRANSFORMERS", "AspectScale", "BadImageError", "CenterCrop",
    "ChannelNormalize", "ChannelOrder", "ColorConvert", "ColorJitter", "Expand", "HFlip", "ImageReadWarning",
    "ImageRecord", "ImageSet", "LabelMap", "Pipeline", "PixelScale", "RandomCrop", "RandomResizedCrop", "ReadReport",
    "Resize", "Rotate", "SSDRandomCrop", "ToTensor", "Transformer", "decode_image", "iou", "record_rng",
    "transformer_from_config",
]
