"""The simple model as an ONNX graph, written from its arrays (no exporter, no torch).

Inputs are what bundle/preprocessing.py makes of a file: `pixels` (batch x size*size grey
values) or `counts` (batch x vocabulary word counts). The graph holds the rest of the
arithmetic of SimpleModel.logits, so onnxruntime and the app agree to float rounding (the
bundle writer checks it on held-out examples, as for a network).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import PIXELS, SimpleModel

OPSET = 17


def _const(name: str, value: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)


def build(model: SimpleModel):
    from onnx import TensorProto, helper

    n_features = model.weight.shape[1]
    inits = [_const("weight_t", model.weight.T), _const("bias", model.bias)]
    nodes = []
    if model.kind == PIXELS:
        name = "pixels"
        inits += [_const("mean", model.mean), _const("scale", model.scale)]
        nodes += [helper.make_node("Sub", [name, "mean"], ["centred"]),
                  helper.make_node("Div", ["centred", "scale"], ["x"])]
    else:
        name = "counts"
        inits += [_const("idf", model.idf), _const("zero", np.zeros(())), _const("one", np.ones(())),
                  _const("tiny", np.full((), 1e-12)), _const("one_count", np.ones(()))]
        nodes += [helper.make_node("Greater", [name, "zero"], ["present"]),
                  helper.make_node("Max", [name, "one"], ["at_least_one"]),  # log never sees 0
                  helper.make_node("Log", ["at_least_one"], ["log_counts"]),
                  helper.make_node("Add", ["log_counts", "one"], ["sublinear"]),
                  helper.make_node("Where", ["present", "sublinear", "zero"], ["tf"]),
                  helper.make_node("Mul", ["tf", "idf"], ["tfidf"]),
                  helper.make_node("Mul", ["tfidf", "tfidf"], ["squares"]),
                  helper.make_node("ReduceSum", ["squares", "axes"], ["sum_squares"], keepdims=1),  # last axis
                  helper.make_node("Sqrt", ["sum_squares"], ["norm"]),
                  helper.make_node("Max", ["norm", "tiny"], ["safe_norm"]),
                  helper.make_node("Div", ["tfidf", "safe_norm"], ["x"])]
        inits.append(helper.make_tensor("axes", TensorProto.INT64, [1], [1]))  # opset 13+: axes are an input
    nodes += [helper.make_node("MatMul", ["x", "weight_t"], ["scores"]),
              helper.make_node("Add", ["scores", "bias"], ["logits"])]
    graph = helper.make_graph(nodes, f"transfer_studio_{model.kind}",
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", n_features])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                             ["batch", len(model.classes)])], inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="transfer-studio")
    onnx_model.ir_version = 8
    return onnx_model, name


def export(model: SimpleModel, path: str | Path) -> dict:
    """Write model.onnx; returns the manifest's description of it."""
    import onnx

    graph, name = build(model)
    onnx.checker.check_model(graph)
    from ..atomic import write_bytes

    write_bytes(path, graph.SerializeToString())
    return {"file": Path(path).name, "opset": OPSET, "exporter": "onnx.helper (the simple model's arithmetic)",
            "inputs": [name], "outputs": ["logits"]}
