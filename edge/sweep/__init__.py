"""`edge sweep`: a grid of model x input size x target x quant x prune x device, on Ray, resumable.

spec.py (the YAML), cells.py (the grid and each cell's key), store.py (the folder), cluster.py (Ray and
devices as resources), tasks.py (one conversion, one timing), runner.py (the loop), results.py (the
table), report.py (the HTML), cli.py (the command).
"""

from edge.sweep.runner import SweepResult, run_sweep
from edge.sweep.spec import SweepSpec, load_spec

__all__ = ["SweepResult", "SweepSpec", "load_spec", "run_sweep"]
