"""ExecuTorch (.pte) through the Python runtime bindings."""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from runtimes.base import SessionInfo, TensorSpec


def pte_instruction_counts(path: str | Path) -> dict:
    """Delegate calls vs. operators run outside any delegate, read from the program itself."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(Path(path).read_bytes())
    program = getattr(program, "program", program)
    kernel_ops: dict[str, int] = {}
    delegate_calls = kernel_calls = 0
    # constant methods (an export's metadata) are plans too; count the model's own
    plan = next((p for p in program.execution_plan if p.name == "forward"), program.execution_plan[0])
    for chain in plan.chains:
        for ins in chain.instructions:
            kind = type(ins.instr_args).__name__
            if kind == "DelegateCall":
                delegate_calls += 1
            elif kind == "KernelCall":
                kernel_calls += 1
                op = plan.operators[ins.instr_args.op_index]
                key = op.name + (f".{op.overload}" if op.overload else "")
                kernel_ops[key] = kernel_ops.get(key, 0) + 1
    return {"delegate_calls": delegate_calls, "kernel_calls": kernel_calls, "kernel_ops": kernel_ops}


# ExecuTorch ScalarType codes (c10 numbering)
_DTYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 11: "bool"}


def _spec(name: str, meta) -> TensorSpec:
    code = int(meta.dtype())
    return TensorSpec(name, tuple(meta.sizes()), _DTYPES.get(code, f"scalar_type_{code}"))


class ExecuTorchSession:
    def __init__(self, path: str | Path, threads: int | None = None):
        import executorch.extension.pybindings.portable_lib as portable
        from executorch.runtime import Runtime

        if threads:  # XNNPACK runs on ExecuTorch's own threadpool, not torch's
            portable._unsafe_reset_threadpool(threads)
        threads = portable._threadpool_get_thread_count()
        start = time.perf_counter()
        try:
            self._method = Runtime.get().load_program(str(path)).load_method("forward")
            counts = pte_instruction_counts(path)
        except Exception as e:  # the loader's "Failed to load program, error 0x23" and the flatbuffer reader's errors
            from runtimes.formats import ArtifactError

            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ArtifactError(f"{str(path)!r} is not a loadable .pte program ({first}); re-export it.") from None
        load_ms = (time.perf_counter() - start) * 1e3
        meta = self._method.metadata
        self.inputs = [_spec(f"input_{i}", meta.input_tensor_meta(i)) for i in range(meta.num_inputs())]
        self.outputs = [_spec(f"output_{i}", meta.output_tensor_meta(i)) for i in range(meta.num_outputs())]
        self.info = SessionInfo("executorch", {"executorch": version("executorch")}, threads, counts, load_ms)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        outs = self._method.execute([torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        return [o.detach().numpy() for o in outs]
