"""One way to open an ONNX model for the app's CPU inference (the local embedders, the
reranker and OCR): a fixed number of intra-op threads, no inter-op parallelism, errors
only in the log, and idle threads that sleep instead of spinning, because the GUI thread
shares the cores with the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_session(model: Path, threads: int, *, memory_arena: bool = True) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU provider for ``model``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = memory_arena
    options.log_severity_level = 3  # errors only; warnings would go to stderr
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
