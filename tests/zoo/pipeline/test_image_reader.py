"""NNImageReader: Spark's image schema (checked against Spark's own image data source), labels and their
metadata, grey images, and image columns fed through a preprocessing chain into a network."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pyspark.ml.feature import IndexToString
from pyspark.ml.image import ImageSchema

from bigdl_runtime.nn import Flatten, Sequential
from zoo.feature.image import ChannelNormalize, PixelScale, ToTensor
from zoo.pipeline import NNImageReader, NNModel
from zoo.pipeline.columns import image_row, image_to_array


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two class folders of small RGB PNGs with known pixels."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(5)
    pixels = {}
    for label in ("cat", "dog"):
        (root / label).mkdir()
        for i in range(2):
            image = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
            path = root / label / f"{i}.png"
            Image.fromarray(image, mode="RGB").save(path)
            pixels[path.name, label] = image
    return root, pixels


def test_rows_match_sparks_own_image_source_and_labels_carry_class_names(spark, folder):
    root, pixels = folder
    df = NNImageReader.read_images(str(root), spark)
    assert df.schema["image"].dataType == ImageSchema.columnSchema
    assert df.columns == ["image", "label", "labelName"]
    assert df.schema["label"].metadata["ml_attr"]["vals"] == ["cat", "dog"]
    ours = {r.image.origin.rsplit("/", 2)[-2:][0] + "/" + r.image.origin.rsplit("/", 1)[-1]: r for r in df.collect()}
    theirs = spark.read.format("image").load(str(root / "*" / "*.png")).collect()
    assert len(ours) == len(theirs) == 4
    for row in theirs:
        key = "/".join(row.image.origin.rsplit("/", 2)[-2:])
        mine = ours[key].image
        assert (mine.height, mine.width, mine.nChannels, mine.mode) == \
               (row.image.height, row.image.width, row.image.nChannels, row.image.mode)
        assert bytes(mine.data) == bytes(row.image.data)                      # BGR, row-major, like Spark
        name, label = key.split("/")[1], key.split("/")[0]
        np.testing.assert_array_equal(image_to_array(mine), pixels[name, label])
        assert ours[key].labelName == label and ours[key].label == ["cat", "dog"].index(label)
    decoded = IndexToString(inputCol="label", outputCol="name").transform(df).select("name", "labelName").collect()
    assert all(r.name == r.labelName for r in decoded)


def test_grey_images_have_one_channel_and_image_rows_round_trip(spark, folder):
    root, pixels = folder
    row = NNImageReader.read_images(str(root / "cat"), spark, with_label=None, color="gray").first()
    assert (row.image.nChannels, row.image.mode, len(row.image.data)) == (1, 0, 5 * 7)
    rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    fields = image_row("x.png", rgba)
    assert fields["mode"] == 24 and bytes(fields["data"])[:4] == bytes([2, 1, 0, 3])      # BGRA
    as_row = ImageSchema.columnSchema.fromInternal(ImageSchema.columnSchema.toInternal(fields))
    np.testing.assert_array_equal(image_to_array(as_row), rgba)
    with pytest.raises(ValueError, match="5 channels"):
        image_row("y.png", np.zeros((2, 2, 5), np.uint8))


def test_image_column_goes_through_the_preprocessing_chain_on_the_workers(spark, folder):
    root, pixels = folder
    df = NNImageReader.read_images(str(root), spark)
    chain = PixelScale() >> ChannelNormalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.5]) >> ToTensor()
    out = NNModel(Sequential(Flatten()), featuresCol="image", featurePreprocessing=chain).transform(df).collect()
    for r in out:
        name, label = r.image.origin.rsplit("/", 1)[-1], r.labelName
        expected = ((pixels[name, label] / 255.0 - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.5]).transpose(2, 0, 1)
        np.testing.assert_allclose(r.prediction.toArray(), expected.ravel(), rtol=1e-5, atol=1e-5)
    raw = NNModel(Sequential(Flatten()), featuresCol="image").transform(df).first()
    name, label = raw.image.origin.rsplit("/", 1)[-1], raw.labelName
    np.testing.assert_array_equal(raw.prediction.toArray(), pixels[name, label].transpose(2, 0, 1).ravel())


def test_images_of_several_sizes_need_a_resizing_chain_and_bad_images_are_named(spark, tmp_path):
    from zoo.feature.image import ImageRecord, Resize

    rng = np.random.default_rng(9)
    sizes = {"a.png": (5, 7), "b.png": (6, 4), "c.png": (5, 7)}
    for name, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), mode="RGB").save(tmp_path / name)
    df = NNImageReader.read_images(str(tmp_path), spark, with_label=None).coalesce(1)
    with pytest.raises(Exception, match=r"NNModel: row \d of partition 0, column 'image': image '\S+b.png' gives a "
                                        r"sample of shape \(3, 6, 4\), the first of its batch \(3, 5, 7\)"):
        NNModel(Sequential(Flatten()), featuresCol="image").transform(df).collect()
    chain = Resize(4, 4) >> ToTensor()
    rows = NNModel(Sequential(Flatten()), featuresCol="image", featurePreprocessing=chain,
                   featureShape=[48]).transform(df).collect()
    for r in rows:   # the chain run on the image by itself
        expected = chain.run(ImageRecord(image_to_array(r.image), path=r.image.origin)).image.reshape(48)
        np.testing.assert_allclose(r.prediction.toArray(), expected, rtol=1e-6)
    broken = [image_row("ok.png", np.zeros((2, 2, 3), np.uint8)), image_row("bad.png", np.zeros((2, 2, 3), np.uint8))]
    broken[1]["data"] = bytearray(5)
    bad = spark.createDataFrame([(i, b) for i, b in enumerate(broken)],
                                f"id int, image {ImageSchema.columnSchema.simpleString()}")
    with pytest.raises(Exception, match=r"row 1 of partition \d, column 'image' \(row \{'id': 1\}\): image 'bad.png': "
                                        r"5 bytes of pixels for 2x2x3"):
        NNModel(Sequential(Flatten()), featuresCol="image").transform(bad.coalesce(1)).collect()


def test_bad_files_are_reported_like_imageset_read_and_raise_names_the_first(spark, tmp_path):
    from tests.zoo.feature.image.conftest import make_folder
    from zoo.feature.image import BadImageError, ImageReadWarning

    expected = make_folder(tmp_path / "images")   # 6 good, 4 bad (one zero-byte), 1 text file
    huge = str(tmp_path / "images" / "cat" / "huge.png")   # a bomb only below Pillow's default pixel limit
    bad = [p for p in expected["bad"] if p != huge]
    with pytest.warns(ImageReadWarning, match=r"read 7 images; skipped 3 bad, 0 unlabelled; ignored 1 non-image"):
        df = NNImageReader.read_images(str(tmp_path / "images"), spark, num_partitions=3)
    rows = df.collect()
    assert sorted(r.image.origin for r in rows) == sorted([*expected["good"], huge])
    for r in rows:
        if r.image.origin != huge:
            np.testing.assert_array_equal(image_to_array(r.image), expected["good"][r.image.origin])
        assert r.labelName == r.image.origin.rsplit("/", 2)[-2] and r.label == ["cat", "dog"].index(r.labelName)
    with pytest.raises(BadImageError) as info:
        NNImageReader.read_images(str(tmp_path / "images"), spark, on_error="raise")
    assert info.value.path == bad[0] and "Traceback" not in str(info.value)


def test_labels_from_a_dataframe_with_fixed_classes_and_unlabelled_images(spark, tmp_path):
    from tests.zoo.feature.image.conftest import make_folder
    from zoo.feature.image import ImageReadWarning

    root = tmp_path / "images"
    make_folder(root)
    table = spark.createDataFrame([(str(root / "dog" / "b.bmp"), "dog"), (str(root / "cat" / "b.png"), "cat")],
                                  ["path", "label"])
    with pytest.warns(ImageReadWarning, match="read 2 images; skipped 0 bad, 8 unlabelled"):
        df = NNImageReader.read_images(str(root), spark, with_label=table, classes=["zebra", "dog", "cat"])
    got = sorted((r.image.origin.rsplit("/", 2)[-2], r.label, r.labelName) for r in df.collect())
    assert got == [("cat", 2.0, "cat"), ("dog", 1.0, "dog")]
    assert df.schema["label"].metadata["ml_attr"]["vals"] == ["zebra", "dog", "cat"]


def photo_folder(root, sizes):
    """JPEG photos of the given (height, width) sizes in one class folder, plus a truncated one."""
    from tests.zoo.feature.image.conftest import encode

    rng = np.random.default_rng(3)
    (root / "pets").mkdir(parents=True)
    for i, (h, w) in enumerate(sizes):
        smooth = np.clip(np.add.outer(np.arange(h), np.arange(w))[..., None] * [1, 2, 3] // 4
                         + rng.integers(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        (root / "pets" / f"{i}.jpg").write_bytes(encode(smooth, "JPEG", quality=95))
    whole = (root / "pets" / "0.jpg").read_bytes()
    (root / "pets" / "cut.jpg").write_bytes(whole[:len(whole) // 3])
    return root


def test_transform_gives_the_chains_float32_tensors_once_and_names_bad_images(spark, tmp_path):
    from zoo.feature.image import AspectScale, BadImageError, CenterCrop, ImageReadWarning
    from zoo.feature.image.reading import ReadOptions, read_file

    root = photo_folder(tmp_path / "photos", [(70, 90), (140, 100), (20, 100)])   # 20x100: scaled to 12x60
    chain = AspectScale(40, max_size=60) >> CenterCrop(40, 40) >> PixelScale() >> ToTensor()
    with pytest.warns(ImageReadWarning, match="read 2 images; skipped 2 bad") as caught:
        df = NNImageReader.read_images(str(root), spark, transform=chain, num_partitions=2)
    summary = str(caught[0].message)
    assert "cut.jpg (truncated or corrupt" in summary
    assert "2.jpg (preprocessing failed: CenterCrop on " in summary and "2.jpg: crop 40x40" in summary
    assert df.columns == ["origin", "features", "label", "labelName"]
    options = ReadOptions("folder", None, None, None, "rgb", "raise")
    rows = df.collect()
    assert sorted(r.origin.rsplit("/", 1)[-1] for r in rows) == ["0.jpg", "1.jpg"]
    for r in rows:   # the same decode (drafted JPEG) and chain as a local read of the file
        expected = read_file(r.origin, open(r.origin, "rb").read(), options, chain=chain)[1].image
        np.testing.assert_array_equal(np.frombuffer(r.features, np.float32).reshape(3, 40, 40), expected)
        assert (r.label, r.labelName) == (0.0, "pets")
    scored = NNModel(Sequential(Flatten()), featureShape=[3, 40, 40]).transform(df).collect()
    assert all(np.array_equal(s.prediction.toArray(), np.frombuffer(s.features, np.float32)) for s in scored)
    with pytest.raises(BadImageError, match=r"bad image \S+/pets/2.jpg: preprocessing failed: CenterCrop"):
        NNImageReader.read_images(str(root / "pets" / "2.jpg"), spark, transform=chain, on_error="raise")
    with pytest.raises(ValueError, match=r"several shapes: 3x40x200 \(e.g. \S+/2.jpg\), 3x40x51 \(e.g. \S+/0.jpg\), "
                                         r"3x56x40 \(e.g. \S+/1.jpg\); end it with a fixed-size step"):
        NNImageReader.read_images(str(root), spark, transform=AspectScale(40) >> ToTensor())


def test_files_are_decoded_in_about_two_tasks_per_core(spark, tmp_path):
    from zoo.feature.image.spark_read import binary_files

    root = photo_folder(tmp_path / "photos", [(8, 8)] * 7)
    cores = spark.sparkContext.defaultParallelism
    files, scanned = binary_files(str(root / "pets" / "0.jpg"), spark, None)
    assert files.rdd.getNumPartitions() == 1 and scanned.rdd.getNumPartitions() == cores   # one split, spread
    spark.conf.set("spark.sql.files.openCostInBytes", "1")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "64")          # a split per file
    try:
        files, scanned = binary_files(str(root), spark, None)
        assert files.rdd.getNumPartitions() == 8 and scanned.rdd.getNumPartitions() == 2 * cores
    finally:
        spark.conf.unset("spark.sql.files.openCostInBytes")
        spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_the_chain_runs_once_and_later_actions_read_the_cached_tensors(spark, tmp_path):
    import shutil

    from zoo.feature.image import CenterCrop, ImageReadWarning

    root = photo_folder(tmp_path / "photos", [(20, 24), (30, 26)])
    with pytest.warns(ImageReadWarning, match="skipped 1 bad"):                # cut.jpg
        df = NNImageReader.read_images(str(root), spark, with_label=None, transform=CenterCrop(16, 16) >> ToTensor())
    first = sorted((r.origin, bytes(r.features)) for r in df.collect())
    shutil.rmtree(root)                            # a second decode would find no files
    assert df.count() == 2 and sorted((r.origin, bytes(r.features)) for r in df.collect()) == first
    df.unpersist()


def test_a_missing_path_or_label_csv_is_named(spark, tmp_path):
    for missing in (tmp_path / "nowhere", f"{tmp_path.as_uri()}/*.jpg"):
        with pytest.raises(FileNotFoundError, match="no images found: nothing exists at this path"):
            NNImageReader.read_images(str(missing), spark)
    (tmp_path / "cats").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "cats" / "a.png")
    with pytest.raises(FileNotFoundError, match="No such file or directory: '.*labels.csv'"):
        NNImageReader.read_images(str(tmp_path), spark, with_label=f"{tmp_path.as_uri()}/labels.csv")


def test_the_cache_holds_few_decoded_images_per_batch_and_the_session_keeps_its_setting(spark, tmp_path):
    from zoo.feature.image import Resize
    from zoo.feature.image.spark_read import CACHE_BATCH_ROWS

    (tmp_path / "a").mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / "a" / f"{i}.png")
    key = "spark.sql.inMemoryColumnarStorage.batchSize"
    spark.conf.set(key, "500")
    try:
        df = NNImageReader.read_images(str(tmp_path), spark, transform=Resize(4, 4) >> ToTensor())
        relation = df._jdf.queryExecution().withCachedData()
        assert relation.getClass().getSimpleName() == "InMemoryRelation"
        assert relation.cacheBuilder().cachedPlan().conf().columnBatchSize() == CACHE_BATCH_ROWS
        assert spark.conf.get(key) == "500" and df.count() == 3
        df.unpersist()
    finally:
        spark.conf.unset(key)
