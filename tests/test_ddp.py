"""The DDP example, snippets/gpu-distributed/ddp_train.py, on CPU (gloo, loopback only).

- two processes started by torchrun train, end with identical parameters on both ranks,
  and rank 0 alone leaves one complete checkpoint;
- bad input (a world size that does not match, --nproc-per-node 0, a port already in use,
  a rank that never starts) exits non-zero within a timeout, with a message that says what
  went wrong;
- afterwards no process of any of these runs is left.

Every run gets its own --save-dir; that unique path is in the command line of the launcher
and of every worker it starts, which is how leftover processes are found. The runs start
in parallel (each one pays ~2 s for `import torch`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.run import no_network

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "snippets" / "gpu-distributed" / "ddp_train.py"
TIMEOUT_S = 45  # per run; a healthy 2-process run takes ~10 s on a 2-core CPU
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
LAUNCHER_ENV = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(marker: str) -> list[str]:
    """Processes whose command line contains `marker` (psutil if installed, else ps)."""
    try:
        import psutil
    except ImportError:
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True)
        return [line.strip() for line in ps.stdout.splitlines() if marker in line]
    found = []
    for p in psutil.process_iter(["pid", "cmdline"], ad_value=None):
        cmdline = " ".join(p.info["cmdline"] or [])
        if marker in cmdline:
            found.append(f"{p.info['pid']} {cmdline}")
    return found


def run(case: str, launcher: list[str], args: list[str], base: Path, env: dict | None = None) -> dict:
    save_dir = base / f"run-{case}"
    cmd = [*launcher, str(SCRIPT), "--save-dir", str(save_dir), "--timeout", "20", *args]
    environ = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV}
    environ["PYTHONPATH"] = no_network.GUARD_PATH
    environ.update(env or {})
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=base, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the session started above: this run only
        out, err = proc.communicate()
        rc = None
    seconds = time.perf_counter() - t
    stray = leftovers(str(save_dir))
    for _ in range(20):  # the launcher has returned; give exiting workers a moment
        if not stray:
            break
        time.sleep(0.25)
        stray = leftovers(str(save_dir))
    for line in stray:  # clean up before failing, so one bad run doesn't leak into others
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass
    return {"rc": rc, "out": out, "err": err, "seconds": seconds, "stray": stray, "save_dir": save_dir}


def start_in_background(base: Path) -> dict:
    """Every case, two at a time (tests/conftest.py starts this as soon as the tests are
    collected), with a port on 127.0.0.1 that something else is listening on meanwhile."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        return run_cases(base, busy.getsockname()[1])


pytestmark = pytest.mark.background(start=start_in_background, cache=True)  # tests/conftest.py runs it in the background
@pytest.fixture(scope="module")
def results(started_here):
    return started_here


def run_cases(base: Path, busy_port: int) -> dict:
    plain = [sys.executable]

    def torchrun(n, port):
        return [*TORCHRUN, "--nproc-per-node", str(n), "--master-addr", "127.0.0.1", "--master-port", str(port)]

    cases = {
        # docs/*/gpu-distributed.md runs 3 epochs and shows the ranks agree; here one epoch
        # for what only a test sees: the checkpoint, temporary files, leftover processes
        "two-ranks": (torchrun(2, free_port()), ["--epochs", "1"], None),
        "expect-3-plain": (plain, ["--expect-world-size", "3"], None),
        "port-busy-torchrun": (torchrun(2, busy_port), [], None),
        "port-busy-plain": (plain, [], {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(busy_port)}),
        # a world size of 2 with only rank 0 ever started: it must give up after --timeout
        "missing-rank": (plain, ["--timeout", "3"], {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2",
                                                     "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}),
    }
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(run, name, *spec[:2], base, spec[2]) for name, spec in cases.items()}
        return {name: f.result() for name, f in futures.items()}


def explain(r: dict) -> str:
    return f"rc={r['rc']} after {r['seconds']:.1f} s\n--- stdout\n{r['out']}\n--- stderr\n{r['err'][-3000:]}"


def test_two_processes_train_and_end_identical(results):
    r = results["two-ranks"]
    assert r["rc"] == 0, explain(r)
    assert "world size 2, backend gloo" in r["out"] or "world size 2, backend nccl" in r["out"], explain(r)
    assert "epoch 1: loss" in r["out"], explain(r)
    assert "parameters identical on all 2 ranks: True" in r["out"], explain(r)
    assert r["out"].count("rank 0 saved") == 1, explain(r)
    # one complete checkpoint, no temporary file left behind
    assert sorted(p.name for p in r["save_dir"].iterdir()) == ["ddp_checkpoint.pt"]
    import torch

    state = torch.load(r["save_dir"] / "ddp_checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["epochs"] == 1 and set(state["model"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}


@pytest.mark.parametrize("case, message", [
    ("expect-3-plain", "error: --expect-world-size 3, but 1 process(es) were started"),
    ("port-busy-plain", "could not join the process group at 127.0.0.1:"),
    ("port-busy-torchrun", "address already in use"),
    ("missing-rank", "Timed out after"),
])
def test_bad_input_fails_fast_and_clearly(results, case, message):
    r = results[case]
    assert r["rc"] is not None, f"{case}: no exit within {TIMEOUT_S} s\n" + explain(r)
    assert r["rc"] != 0, explain(r)
    assert message in r["err"], explain(r)
    assert "parameters identical" not in r["out"], explain(r)
    assert not r["save_dir"].exists(), f"{case} wrote a checkpoint"


def test_port_in_use_is_named(results):
    assert "EADDRINUSE" in results["port-busy-plain"]["err"], explain(results["port-busy-plain"])


@pytest.mark.parametrize("case", ["two-ranks", "expect-3-plain", "port-busy-torchrun", "port-busy-plain",
                                  "missing-rank"])
def test_no_process_is_left_running(results, case):
    assert not results[case]["stray"], f"{case} left processes running: {results[case]['stray']}"


def test_only_loopback_was_used(results):
    for case, r in results.items():
        assert "network access blocked" not in r["err"], f"{case}:\n{r['err']}"
