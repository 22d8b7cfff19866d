# Put on PYTHONPATH (with tools/) by the runner and the script tests, so that every Python
# process they start runs with the same no-network guard as the tests themselves, and (when
# CUDA_PROBE_DIR is set: `make test-gpu`) records how much CUDA memory it allocated.
import atexit
import os
import sys

import no_network

no_network.install()


def _record_cuda_peak(folder=os.environ.get("CUDA_PROBE_DIR")):
    torch = sys.modules.get("torch")
    if folder and torch is not None and torch.cuda.is_initialized():
        with open(os.path.join(folder, str(os.getpid())), "w") as f:
            f.write(str(torch.cuda.max_memory_allocated()))


atexit.register(_record_cuda_peak)
