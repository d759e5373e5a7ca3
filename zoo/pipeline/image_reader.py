"""NNImageReader: a folder of images (any Hadoop path) as a DataFrame in Spark's image schema."""
from __future__ import annotations

from typing import Any, Sequence

from pyspark.ml.image import ImageSchema
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from .columns import image_row


def _row(record: Any, labelled: bool) -> tuple[Any, ...]:
    image = image_row(record.path, record.image)
    return (image, float(record.label), record.label_name) if labelled else (image,)


class NNImageReader:
    """Reads images into a DataFrame whose ``image`` column follows ``pyspark.ml.image.ImageSchema``.

    The struct holds ``origin`` (the file's URI), ``height``, ``width``,
    ``nChannels``, ``mode`` (OpenCV type: 0 for grey, 16 for 3 channels) and
    ``data`` (row-major pixels, channels in BGR order), so the column works
    with Spark's own image tools and with the NN stages (``featuresCol="image"``).
    """

    @staticmethod
    def read_images(path: str, spark: SparkSession, with_label: Any = "folder", color: str = "rgb",
                    classes: Sequence[str] | None = None, on_error: str = "skip",
                    num_partitions: int | None = None) -> DataFrame:
        """Read and decode the images under ``path`` with :meth:`zoo.feature.image.ImageSet.read`.

        Args:
            path: a folder (recursive), file or glob; local or any Hadoop URI (``hdfs://...``).
            spark: the session; decoding runs on its executors.
            with_label: ``"folder"`` (parent folder name is the class), a CSV of
                ``path,label`` rows, a DataFrame of (path, label), or None.
            color: ``"rgb"`` (3 channels) or ``"gray"`` (1 channel).
            classes: the class names in index order (e.g. a model's labels); default:
                the sorted names found.
            on_error: ``"skip"`` undecodable files (reported in a warning) or ``"raise"``.
            num_partitions: spread the files over this many partitions before decoding.

        Returns:
            a DataFrame with ``image``, and for labelled images ``label`` (the class
            index as a double, with the class names in the column's ML attribute
            metadata, as StringIndexer writes it, so ``IndexToString`` decodes it)
            and ``labelName``.

        Examples:
            >>> df = NNImageReader.read_images("hdfs://nn/pets/train", spark, color="rgb")
            >>> df.select("image.origin", "label").show(2)
        """
        from zoo.feature.image import ImageSet

        images = ImageSet.read(path, spark, with_label=with_label, color=color, classes=classes, on_error=on_error,
                               num_partitions=num_partitions)
        labelled = with_label is not None
        fields = [StructField("image", ImageSchema.columnSchema, False)]
        if labelled:
            fields += [StructField("label", DoubleType(), False), StructField("labelName", StringType(), True)]
        rows = images.rdd.map(lambda record: _row(record, labelled))
        df = spark.createDataFrame(rows, StructType(fields), verifySchema=False)
        if labelled and images.labels is not None:
            attribute = {"ml_attr": {"type": "nominal", "name": "label", "vals": list(images.labels.names)}}
            df = df.withColumn("label", F.col("label").alias("label", metadata=attribute))
        return df
