"""Run a script as __main__ and record how much CUDA memory it allocated.

    python tools/cuda_probe.py REPORT.json SCRIPT [ARGS...]

Used by the GPU suite to prove that a script which picks a device really ran on CUDA.
The script's exit status and traceback are passed through unchanged.
"""

import json
import os
import runpy
import sys

report, script, *args = sys.argv[1:]
sys.argv = [script, *args]
sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python SCRIPT` does
try:
    runpy.run_path(script, run_name="__main__")
finally:
    import torch

    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_initialized() else 0
    with open(report, "w") as f:
        json.dump({"peak_cuda_bytes": peak, "cuda_available": torch.cuda.is_available()}, f)
