"""Time a tiny and a large matrix multiply and a small training step on CPU and CUDA.

    python benchmark.py                      # print a table
    python benchmark.py --json results.json  # also write the numbers as JSON

Times come from torch.utils.benchmark.Timer (median of repeated runs; it waits for the
GPU to finish before reading the clock). The speed-up column is CPU time / CUDA time;
CUDA is measured only where it is available, the CPU always.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.benchmark import Timer


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_case(n: int, device: torch.device) -> tuple[str, dict, float]:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)
    return "a @ b", {"a": a, "b": b}, 2 * n**3  # floating-point operations per run


def train_step_case(device: torch.device) -> tuple[str, dict, None]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(256, 512, device=device)
    y = torch.randint(0, 10, (256,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return "step()", {"step": step}, None


CASES = {
    "matmul 16x16": lambda d: matmul_case(16, d),
    "matmul 1024x1024": lambda d: matmul_case(1024, d),
    "train step (MLP, batch 256)": train_step_case,
}


def measure(device: torch.device, min_run_time: float) -> dict[str, dict]:
    out = {}
    for name, make in CASES.items():
        stmt, env, flops = make(device)
        exec(stmt, env)  # warm-up: first CUDA calls load kernels and libraries
        timer = Timer(stmt, globals=env, num_threads=torch.get_num_threads(), label=name)
        m = timer.blocked_autorange(min_run_time=min_run_time)
        out[name] = {"ms": m.median * 1e3, "runs": len(m.times) * m.number_per_run,
                     "gflops": flops / m.median / 1e9 if flops else None}
    return out


def rate(gflops: float | None) -> str:
    return f"{gflops:>9.1f}" if gflops else f"{'-':>9}"


def duration(ms: float) -> str:
    return f"{ms * 1e3:>7.1f} us" if ms < 1 else f"{ms:>7.2f} ms"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="write the results to this file")
    p.add_argument("--min-run-time", type=float, default=0.1, help="seconds per measurement")
    args = p.parse_args(argv)

    devices = {"cpu": f"{cpu_name()} ({os.cpu_count()} logical cores, "
                      f"{torch.get_num_threads()} torch threads)"}
    if torch.cuda.is_available():
        devices["cuda"] = torch.cuda.get_device_name(0)
    print(f"torch {torch.__version__}, {platform.machine()}")
    for kind, name in devices.items():
        print(f"{kind}: {name}")

    results = {kind: measure(torch.device(kind), args.min_run_time) for kind in devices}
    header = f"{'case':<30}{'cpu time':>10}{'GFLOP/s':>9}"
    if "cuda" in results:
        header += f"{'cuda time':>11}{'GFLOP/s':>9}{'speed-up':>10}"
    print(header)
    rows = []
    for name in CASES:
        cpu = results["cpu"][name]
        row = {"case": name, "cpu_ms": cpu["ms"], "cpu_gflops": cpu["gflops"]}
        line = f"{name:<30}{duration(cpu['ms'])}{rate(cpu['gflops'])}"
        if "cuda" in results:
            gpu = results["cuda"][name]
            row.update(cuda_ms=gpu["ms"], cuda_gflops=gpu["gflops"], speedup=cpu["ms"] / gpu["ms"])
            line += f" {duration(gpu['ms'])}{rate(gpu['gflops'])}{row['speedup']:>9.1f}x"
        rows.append(row)
        print(line)

    if args.json:
        report = {"torch": torch.__version__, "machine": platform.machine(),
                  "devices": devices, "results": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
