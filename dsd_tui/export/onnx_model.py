"""A rung's network as ONNX (`dsd-tui export --format onnx`), with a dynamic batch dimension.

Needs the `onnx` extra (onnx, onnxscript for torch's exporter, onnxruntime to check it); imported only when
this format is used, and a missing package is one line saying how to install it. The graph's input is
`input` (batch × the recorded input shape), its output `logits` (batch × num_classes); the rung's phase,
number, sparsity and the dsd_tui version go into the model's metadata_props. Pruned weights are stored as
dense zeros: ONNX has no sparse Linear kernel that runtimes agree on.
"""
from __future__ import annotations

import contextlib
import io

from dsd_tui.errors import UsageError

PACKAGES = ("onnx", "onnxscript")


def require_onnx() -> None:
    import importlib.util
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise UsageError(f"--format onnx needs {', '.join(missing)}: install them with `pip install 'dsd-tui[onnx]'`")


def onnx_bytes(data: dict) -> bytes:
    """The ONNX file of a model file's dict (export/model_file.py), batch dimension dynamic."""
    import torch

    from dsd_tui.export.model_file import state_dict
    from dsd_tui.export.rung_network import arch_facts, build_network, load_weights
    require_onnx()
    facts = arch_facts(data)
    model = load_weights(build_network(facts), state_dict(data), "the rung")
    example = torch.zeros((2, *facts.input_shape))
    batch = torch.export.Dim("batch")
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines: not part of our output
        program = torch.onnx.export(model, (example,), dynamo=True, input_names=["input"], output_names=["logits"],
                                    dynamic_shapes=({0: batch},), verbose=False)
    proto = program.model_proto
    for key, value in (("dsd_tui_version", data["dsd_tui_version"]), ("arch", data["arch"]),
                       ("phase", data["phase"]), ("rung", str(data["rung"])), ("sparsity", f"{data['sparsity']:.6f}")):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    return proto.SerializeToString()
