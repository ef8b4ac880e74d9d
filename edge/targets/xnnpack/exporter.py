"""torch.export program -> ExecuTorch .pte with the XNNPACK delegate."""
from __future__ import annotations

from edge.targets.base import ExportJob, ExportOutcome
from edge.targets.xnnpack.coverage import collect_rejections, delegation_coverage


def export_pte(job: ExportJob) -> ExportOutcome:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    with collect_rejections() as reasons:
        lowered = to_edge_transform_and_lower(job.program, partitioner=[XnnpackPartitioner()])
    coverage = delegation_coverage(lowered.exported_program().graph_module, reasons)
    job.out_path.write_bytes(lowered.to_executorch().buffer)
    return ExportOutcome(coverage=coverage)
