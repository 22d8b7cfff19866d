"""Time eager mode against torch.compile on CPU and, when available, CUDA.

What is timed: the first call (the compilation), the first call with a new batch size (a
recompilation), and the steady-state speed afterwards.

    python benchmark.py                          # inductor, the default backend
    python benchmark.py --threads 1              # as the stored result was measured
    python benchmark.py --quick                  # aot_eager (generates no code), short runs
    python benchmark.py --json results.json      # also write the numbers as JSON

Steady-state times come from torch.utils.benchmark.Timer (median of repeated runs; it waits
for the GPU before reading the clock), eager and compiled taking turns round after round
(--rounds). First calls are timed with a clock around one call.
Inductor caches what it compiled on disk; this script gives it an empty cache folder of its
own, so "first call" is always a cold start, as on a fresh machine. The model runs in
inference mode (torch.no_grad), batch 256 and batch 1.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile

if __name__ == "__main__":  # before torch is imported: inductor reads it once
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-cache-"))

import argparse
import json
import platform
import shutil
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.benchmark import Timer

BATCHES = (256, 1)
BACKENDS = ("inductor", "aot_eager", "eager")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 1024), nn.GELU(), nn.LayerNorm(1024), nn.Linear(1024, 256)).eval()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_call(fn, x: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, float]:
    sync(device)
    start = time.perf_counter()
    y = fn(x)
    sync(device)
    return y, time.perf_counter() - start


def steady(fn, x: torch.Tensor, min_run_time: float) -> float:
    timer = Timer("fn(x)", globals={"fn": fn, "x": x}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def compile_and_check(device: torch.device, backend: str | None) -> dict:
    """backend None: eager mode. Otherwise torch.compile(model, backend=backend), compiled
    from scratch: the first call at batch 256 compiles, the first at batch 1 recompiles."""
    model = make_model().to(device)
    inputs = {b: torch.randn(b, 256, generator=torch.Generator().manual_seed(b)).to(device) for b in BATCHES}
    row = {"backend": backend or "eager", "first_call_s": {}, "median_s": {}}
    with torch.no_grad():
        reference = {b: model(x) for b, x in inputs.items()}
        fn = model
        if backend:
            torch._dynamo.reset()  # forget earlier compilations (the disk cache stays)
            fn = torch.compile(model, backend=backend)
        diffs = []
        for b, x in inputs.items():
            y, seconds = timed_call(fn, x, device)
            row["first_call_s"][b] = seconds
            diffs.append((y - reference[b]).abs().max().item())
    row["max_abs_diff"] = max(diffs)
    return {"row": row, "fn": fn, "inputs": inputs}


def measure(device: torch.device, backends: list[str], min_run_time: float, rounds: int) -> list[dict]:
    """Every variant is compiled first; then the steady-state timings take turns, round after
    round, so a change in the machine's load hits eager mode and compiled code alike. The
    median of the rounds' medians is reported."""
    variants = [compile_and_check(device, b) for b in [None, *backends]]
    times = {(i, b): [] for i in range(len(variants)) for b in BATCHES}
    with torch.no_grad():
        for _ in range(rounds):
            for i, v in enumerate(variants):
                for b in BATCHES:
                    times[i, b].append(steady(v["fn"], v["inputs"][b], min_run_time / rounds))
    for (i, b), medians in times.items():
        variants[i]["row"]["median_s"][b] = statistics.median(medians)
    return [{"device": device.type, **v["row"]} for v in variants]


def seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"


def report(meta: dict, rows: list[dict]) -> str:
    lines = [f"torch {meta['torch']}, Python {meta['python']}, {meta['machine']}; benchmark.py sha256 {meta['sha256']}"]
    lines += [f"{kind}: {name}" for kind, name in meta["devices"].items()]
    lines.append(f"load average (1 min) before / after: {meta['load'][0]:.2f} / {meta['load'][1]:.2f}")
    lines.append("model: Linear(256, 1024) -> GELU -> LayerNorm -> Linear(1024, 256), torch.no_grad()")
    lines.append("")
    lines.append("first: the first call (it compiles); med: steady-state median; b256, b1: batch size;")
    lines.append("x: speed-up over eager (its med / this med); max|diff|: largest difference from eager")
    lines.append("")
    lines.append(f"{'device':<7}{'backend':<10}{'first b256':>11}{'first b1':>10}"
                 f"{'med b256':>10}{'med b1':>10}{'x b256':>8}{'x b1':>7}{'max|diff|':>10}")
    eager = {r["device"]: r for r in rows if r["backend"] == "eager"}
    for r in rows:
        base = eager[r["device"]]
        compiled = r["backend"] != "eager"
        first = [seconds(r["first_call_s"][b]) if compiled else "-" for b in BATCHES]
        speed = [f"{base['median_s'][b] / r['median_s'][b]:.2f}x" for b in BATCHES]
        diff = f"{r['max_abs_diff']:.1e}" if compiled else "-"
        lines.append(f"{r['device']:<7}{r['backend']:<10}{first[0]:>11}{first[1]:>10}"
                     f"{seconds(r['median_s'][256]):>10}{seconds(r['median_s'][1]):>10}"
                     f"{speed[0]:>8}{speed[1]:>7}{diff:>10}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", nargs="+", choices=BACKENDS[:2], default=["inductor"],
                   help="torch.compile backends to time against eager mode (default: inductor)")
    p.add_argument("--min-run-time", type=float, default=0.5, help="seconds per steady-state measurement")
    p.add_argument("--rounds", type=int, default=5, help="steady-state measurements take turns this often")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help=f"CPU threads for torch (default here: {torch.get_num_threads()})")
    p.add_argument("--quick", action="store_true",
                   help="only check that it runs: --backends aot_eager --rounds 1 --min-run-time 0.02")
    p.add_argument("--json", type=Path, help="also write the results to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.backends, args.rounds, args.min_run_time = ["aot_eager"], 1, 0.02
    if not args.min_run_time > 0:
        p.error(f"argument --min-run-time: must be > 0, got {args.min_run_time}")
    for name in ("rounds", "threads"):
        if getattr(args, name) < 1:
            p.error(f"argument --{name}: must be >= 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]
    devices = {"cpu": f"{cpu_name()} ({os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads)"}
    if torch.cuda.is_available():
        devices["cuda"] = torch.cuda.get_device_name(0)
    rows = [row for kind in devices for row in measure(torch.device(kind), args.backends, args.min_run_time, args.rounds)]
    meta = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12],
            "devices": devices, "load": [load_before, os.getloadavg()[0]]}
    print(report(meta, rows), end="")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR", "")
        if Path(cache).name.startswith("inductor-cache-"):
            shutil.rmtree(cache, ignore_errors=True)
