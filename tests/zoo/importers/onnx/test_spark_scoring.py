"""An ONNX file scored on a Spark DataFrame in one call (zoo.predict goes through load_onnx)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def test_onnx_file_scores_a_dataframe_like_onnxruntime(spark, rng: np.random.Generator, tmp_path) -> None:
    import zoo

    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "F"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B"),
             numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "F")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    path = tmp_path / "small.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))

    x = rng.standard_normal((23, 2, 5, 5)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].reshape(-1).tolist()) for i in range(len(x))], ["id", "pixels"]).repartition(2)
    scored = zoo.predict(str(path), df, input_col="pixels", input_shape=(2, 5, 5), output="array", batch_size=4)
    rows = {r["id"]: np.array(r["prediction"], np.float32) for r in scored.collect()}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(np.stack([rows[i] for i in range(len(x))]), want, rtol=1e-4, atol=1e-5)
