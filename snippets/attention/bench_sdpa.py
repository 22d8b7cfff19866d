"""Attention written by hand against F.scaled_dot_product_attention (SDPA): time and peak memory
of one forward call, for several sequence lengths.

    python snippets/attention/bench_sdpa.py --quick                       # seconds: does it run here?
    python snippets/attention/bench_sdpa.py --output snippets/attention/sdpa-result-cpu.txt

Time: the median of torch.utils.benchmark's blocked_autorange (it synchronises CUDA).
Memory: the peak of the bytes allocated during one call, beyond its inputs. On the CPU from
torch.profiler's memory records (each operator's own net allocation and each free of torch's
CPU allocator, summed in time order); on CUDA from torch.cuda.max_memory_allocated. The SDPA row names the kernel that
ran (the aten operator the profiler saw); on CUDA each backend is pinned in turn with
torch.nn.attention.sdpa_kernel, so a row exists only if that backend ran.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile
from torch.utils import benchmark

from train import Parser, pick_device, positive_int, replace_atomically

BATCH, HEADS, HEAD_DIM = 1, 4, 64  # a model of width 256 in 4 heads


def by_hand(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (N, H, L, L): the whole table
    return scores.softmax(dim=-1) @ v


def sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def median_seconds(fn, q, k, v, min_run_time: float) -> float:
    timer = benchmark.Timer("fn(q, k, v)", globals={"fn": fn, "q": q, "k": k, "v": v})
    return timer.blocked_autorange(min_run_time=min_run_time).median


def cpu_peak_and_ops(fn, q, k, v) -> tuple[int, set[str]]:
    """Peak bytes allocated during one call (inputs excluded) and the aten operators it ran."""
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(q, k, v)
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    now = peak = 0
    for e in events:  # each operator's own net allocation, and the frees ("[memory]"), in time order
        now += e.self_cpu_memory_usage
        peak = max(peak, now)
    return peak, {e.name for e in events if "scaled_dot_product" in e.name}


def cuda_peak(fn, q, k, v) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        fn(q, k, v)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def cuda_backends():
    """(label, SDPBackend) for every backend this torch knows, the math fallback last."""
    from torch.nn.attention import SDPBackend

    names = [("flash", "FLASH_ATTENTION"), ("memory-efficient", "EFFICIENT_ATTENTION"), ("cudnn", "CUDNN_ATTENTION"),
             ("math", "MATH")]
    return [(label, getattr(SDPBackend, attr)) for label, attr in names if hasattr(SDPBackend, attr)]


def measure(device: torch.device, lengths: list[int], min_run_time: float) -> list[tuple[str, int, float, int]]:
    """(method, L, seconds, peak bytes) rows."""
    rows = []
    for L in lengths:
        g = torch.Generator().manual_seed(L)
        dtype = torch.float16 if device.type == "cuda" else torch.float32  # flash attention needs half precision
        q, k, v = (torch.randn(BATCH, HEADS, L, HEAD_DIM, generator=g).to(device, dtype) for _ in range(3))
        torch.testing.assert_close(sdpa(q, k, v), by_hand(q, k, v), atol=2e-3, rtol=2e-3)
        if device.type == "cpu":
            peak, _ = cpu_peak_and_ops(by_hand, q, k, v)
            rows.append(("by hand", L, median_seconds(by_hand, q, k, v, min_run_time), peak))
            peak, ops = cpu_peak_and_ops(sdpa, q, k, v)
            kernel = min((op for op in ops if op != "aten::scaled_dot_product_attention"), default="?")
            rows.append((f"SDPA ({kernel.removeprefix('aten::_scaled_dot_product_')})", L,
                         median_seconds(sdpa, q, k, v, min_run_time), peak))
        else:
            from torch.nn.attention import sdpa_kernel

            rows.append(("by hand", L, median_seconds(by_hand, q, k, v, min_run_time), cuda_peak(by_hand, q, k, v)))
            for label, backend in cuda_backends():
                with sdpa_kernel([backend]):  # only this backend: SDPA raises if it can't run
                    try:
                        peak = cuda_peak(sdpa, q, k, v)
                    except RuntimeError:
                        continue  # not available for this GPU, dtype or shape: no row
                    rows.append((f"SDPA {label}", L, median_seconds(sdpa, q, k, v, min_run_time), peak))
    return rows


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(device: torch.device, rows, load: tuple[float, float]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{cpu_name()} ({os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads)")
    dtype = "float16" if device.type == "cuda" else "float32"
    lines = [f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}; "
             f"bench_sdpa.py sha256 {digest}",
             f"{device.type}: {where}",
             f"load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f}",
             f"q, k, v: ({BATCH}, {HEADS}, L, {HEAD_DIM}) {dtype}, no mask, one forward call; "
             f"time: median; memory: peak beyond the inputs",
             "",
             f"{'method':<36} {'L':>5} {'time':>10} {'peak memory':>12}"]
    for method, L, seconds, peak in rows:
        time_text = (f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3
                     else f"{seconds * 1e6:.1f} us")
        lines.append(f"{method:<36} {L:>5} {time_text:>10} {peak / 2**20:>8.1f} MiB")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(description="Time and peak memory of attention by hand against F.scaled_dot_product_attention.")
    p.add_argument("--lengths", type=positive_int, nargs="+", default=[256, 512, 1024, 2048],
                   help="sequence lengths (default: 256 512 1024 2048)")
    p.add_argument("--device", type=pick_device, default="cpu", help="cpu, cuda, auto, ... (default: cpu)")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default: 1)")
    p.add_argument("--quick", action="store_true", help="lengths 64 128, brief timing: only shows that it runs")
    p.add_argument("--output", help="write the result to this file (atomically) instead of printing it")
    args = p.parse_args(argv)
    if args.quick:
        args.lengths = [64, 128]
    if args.output and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        p.error(f"argument --output: no such folder: {os.path.dirname(args.output)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    rows = measure(args.device, args.lengths, 0.05 if args.quick else 0.5)
    text = report(args.device, rows, (load_before, os.getloadavg()[0]))
    if args.output:
        replace_atomically(args.output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
