"""ImageSet.read locally and through Spark: labels, bad files reported, EXIF, CSV/DataFrame labels."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zoo.feature.image as zi
from zoo.feature.image import (BadImageError, ImageReadWarning, ImageSet, LabelMap, decode_image)

from .conftest import MAX_PIXELS, encode

REASONS = {"corrupt.jpg": "not a recognised image format", "empty.png": "zero-byte file",
           "truncated.jpg": "truncated or corrupt", "huge.png": "decompression bomb"}


def by_path(images: ImageSet) -> list:
    return sorted(images.records(), key=lambda r: r.path)


def check_read(images: ImageSet, expected: dict) -> None:
    records = by_path(images)
    assert [r.path for r in records] == sorted(expected["good"])
    for rec in records:
        np.testing.assert_array_equal(rec.image, expected["good"][rec.path])
        assert rec.image.dtype == np.uint8 and rec.image.shape == (30, 40, 3)
        assert rec.label_name == Path(rec.path).parent.name
        assert rec.label == {"cat": 0, "dog": 1}[rec.label_name]
    assert images.labels == LabelMap(["cat", "dog"])
    report = images.report
    assert report.read == 6
    assert [p for p, _ in report.skipped] == expected["bad"]
    for path, reason in report.skipped:
        assert reason.startswith(REASONS[Path(path).name]), (path, reason)
    assert report.ignored == expected["ignored"]
    assert "skipped 4 bad" in report.summary()
    assert f"Ignored: {expected['ignored'][0]}" in report.summary()           # named, not just counted


def test_read_local_skips_and_reports_bad_images(image_folder):
    root, expected = image_folder
    with pytest.warns(ImageReadWarning, match="skipped 4 bad"):
        images = ImageSet.read(root, max_pixels=MAX_PIXELS)
    assert not images.is_distributed
    check_read(images, expected)


def test_read_spark_matches_local(image_folder, spark):
    root, expected = image_folder
    with pytest.warns(ImageReadWarning, match="skipped 4 bad"):
        distributed = ImageSet.read(f"file://{root}", spark, max_pixels=MAX_PIXELS, num_partitions=3)
    assert distributed.is_distributed
    check_read(distributed, expected)
    distributed.unpersist()
    assert len(distributed.transform(zi.CenterCrop(10, 10))) == 6      # recomputed from the files


def test_a_read_that_only_ignored_files_warns_naming_them(tmp_path):
    (tmp_path / "cat").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "cat" / "a.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    with pytest.warns(ImageReadWarning, match=r"ignored 1 non-image files.*Ignored: .*cat/notes\.txt"):
        images = ImageSet.read(str(tmp_path))
    assert images.report.read == 1 and images.report.ignored == [str(tmp_path / "cat" / "notes.txt")]


@pytest.mark.parametrize("use_spark", [False, True])
def test_on_error_raise_names_the_file(image_folder, spark, use_spark):
    root, expected = image_folder
    with pytest.raises(BadImageError) as info:
        ImageSet.read(root, spark if use_spark else None, on_error="raise", max_pixels=MAX_PIXELS)
    assert info.value.path in expected["bad"]
    assert info.value.path in str(info.value)
    assert "Traceback" not in str(info.value)


def test_default_limit_is_pillows_and_none_disables(image_folder):
    root, _ = image_folder
    with pytest.warns(ImageReadWarning, match="skipped 3 bad"):
        images = ImageSet.read(root)                       # huge.png is only 12000 pixels
    assert images.report.read == 7
    data = encode(np.zeros((100, 120, 3), np.uint8), "PNG")
    assert decode_image(data, "x.png", max_pixels=None).shape == (100, 120, 3)
    with pytest.raises(BadImageError, match=r"x.png: decompression bomb: 120x100 = 12000 pixels > max_pixels 11999"):
        decode_image(data, "x.png", max_pixels=11999)


def test_exif_orientation_is_applied():
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255                                   # left half white
    exif = Image.Exif()
    exif[0x0112] = 6                                       # stored rotated: display needs 90 degrees clockwise
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", exif=exif)
    out = decode_image(buf.getvalue(), "rotated.png")
    assert out.shape == (40, 20, 3)
    np.testing.assert_array_equal(out, np.rot90(pixels, k=-1))
    assert out[:20].min() == 255 and out[20:].max() == 0  # the white half is now on top


def test_gray_color_and_16_bit():
    gray16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    buf = io.BytesIO()
    Image.fromarray(gray16).save(buf, format="PNG")
    out = decode_image(buf.getvalue(), "g.png", color="gray")
    assert out.shape == (3, 4, 1)
    np.testing.assert_array_equal(out[..., 0], (gray16 >> 8).astype(np.uint8))


def write_csv(root: Path, extra_row: str = "") -> Path:
    csv_path = root / "labels.csv"
    csv_path.write_text("path,label\ncat/a.png,7\ndog/c.png,10\ncat/huge.png,2\ngone/x.png,7\n" + extra_row)
    return csv_path


def test_csv_labels(image_folder):
    root, _ = image_folder
    with pytest.warns(ImageReadWarning):
        images = ImageSet.read(root, with_label=write_csv(root), max_pixels=MAX_PIXELS)
    records = by_path(images)
    assert images.labels.names == ["2", "7", "10"]       # integer names sort numerically
    assert [(Path(r.path).name, r.label_name, r.label) for r in records] == [("a.png", "7", 1), ("c.png", "10", 2)]
    report = images.report
    assert report.read == 2
    assert [Path(p).name for p, _ in report.skipped] == ["huge.png"]
    assert len(report.unlabelled) == 7                     # the other images are reported, not dropped silently
    assert report.missing == ["gone/x.png"]


def test_dataframe_labels_and_fixed_classes(image_folder, spark):
    root, _ = image_folder
    df = spark.createDataFrame([(str(root / "dog" / "b.bmp"), "dog"), (str(root / "cat" / "b.png"), "cat")],
                               ["path", "label"])
    with pytest.warns(ImageReadWarning):
        images = ImageSet.read(root, spark, with_label=df, classes=["zebra", "dog", "cat"], max_pixels=MAX_PIXELS)
    assert [(r.label_name, r.label) for r in by_path(images)] == [("cat", 2), ("dog", 1)]
    with pytest.raises(ValueError, match=r"labels \['dog'\] are not among the classes \['cat'\]"), \
            pytest.warns(ImageReadWarning):
        ImageSet.read(root, with_label="folder", classes=["cat"], max_pixels=MAX_PIXELS)


def test_label_map_json_round_trip(tmp_path):
    labels = LabelMap(["b", "a", "c"])
    labels.save(tmp_path / "labels.json")
    loaded = LabelMap.load(tmp_path / "labels.json")
    assert loaded == labels and loaded.index("c") == 2 and loaded.name(0) == "a"
    with pytest.raises(ValueError, match="duplicate"):
        LabelMap.from_json('{"classes": ["a", "a"]}')
    with pytest.raises(KeyError, match="unknown class 'z'"):
        labels.index("z")


def test_missing_path_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no images found"):
        ImageSet.read(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="on_error"):
        ImageSet.read(tmp_path, on_error="ignore")
    with pytest.raises(TypeError, match="with_label"):
        ImageSet.read(tmp_path, with_label=3)


def test_local_glob(image_folder):
    root, _ = image_folder
    with pytest.warns(ImageReadWarning, match="skipped 2 bad"):
        images = ImageSet.read(f"{root}/*/*.png", max_pixels=MAX_PIXELS)
    assert [Path(r.path).relative_to(root).as_posix() for r in images.records()] == \
        ["cat/a.png", "cat/b.png", "cat/c.png", "dog/a.png", "dog/c.png"]
    assert sorted(Path(p).name for p, _ in images.report.skipped) == ["empty.png", "huge.png"]


def test_jpegs_are_drafted_to_the_size_the_first_resize_needs():
    smooth = np.add.outer(np.arange(300), np.arange(400))[..., None].repeat(3, axis=2) // 3
    plain = encode(smooth.astype(np.uint8), "JPEG", quality=95)              # stored 400 wide, 300 high
    assert decode_image(plain, "p.jpg").shape == (300, 400, 3)
    asked = []

    def quarter(h, w):
        asked.append((h, w))
        return h // 4, w // 4

    assert decode_image(plain, "p.jpg", size_needed=quarter).shape == (75, 100, 3)   # DCT scale 1/4
    assert decode_image(plain, "p.jpg", size_needed=lambda h, w: (h // 4 + 1, w // 4)).shape == (150, 200, 3)
    exif = Image.Exif()
    exif[0x0112] = 6                                                        # displayed turned: 300 wide, 400 high
    buf = io.BytesIO()
    Image.fromarray(smooth.astype(np.uint8)).save(buf, format="JPEG", quality=95, exif=exif)
    assert decode_image(buf.getvalue(), "t.jpg", size_needed=quarter).shape == (100, 75, 3)
    assert asked == [(300, 400), (400, 300)]                                # always the upright size
    png = encode(smooth.astype(np.uint8), "PNG")
    assert decode_image(png, "p.png", size_needed=quarter).shape == (300, 400, 3)   # only JPEGs have DCT scales
    chain = zi.AspectScale(60) >> zi.CenterCrop(60, 60)
    assert chain.decode_size(300, 400) == (60, 80) and zi.Resize(7, 9).decode_size(300, 400) == (7, 9)
    assert zi.CenterCrop(5, 5).decode_size(300, 400) is None
