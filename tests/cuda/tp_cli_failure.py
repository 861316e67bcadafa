#!/usr/bin/env python3
"""offload-ffn --gpus 2 with a rank made to fail (OFFLOAD_FFN_TP_FAIL): the run
must end, within the timeout, with exit code 1, nothing on stdout, and one
line on stderr that names the rank and the cause. Exits 77 (skipped) where
the build has no NCCL or the machine fewer than two GPUs.

    tp_cli_failure.py OFFLOAD_FFN
"""
import os
import subprocess
import sys

SKIP = 77
TIMEOUT_S = 120
ARGS = ["--gpus", "2", "--hidden", "1024", "--ffn", "4096", "--layers", "8", "--passes", "3",
        "--preset", "manual", "--gpu-layers", "2"]
CASES = [("1:1:exception", "rank 1 (GPU 1) failed: the failure that OFFLOAD_FFN_TP_FAIL injects at pass 1, layer 4"),
         ("0:setup:oom", "rank 0 (GPU 0) failed: offload: out of device memory while the failure that"),
         ("1:0:oom", "rank 1 (GPU 1) failed: offload: out of device memory")]


def run(exe, env_value):
    env = dict(os.environ)
    if env_value is not None:
        env["OFFLOAD_FFN_TP_FAIL"] = env_value
    try:
        p = subprocess.run([exe] + ARGS, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, "", ""
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    exe = sys.argv[1]
    rc, out, err = run(exe, None)
    # No NCCL in the build, fewer than two GPUs, or none (then --backend auto is host).
    if rc != 0 and any(w in err for w in ("NCCL", "GPUs asked for", "CUDA device", "--backend cuda")):
        print(f"skipped: {err.strip()}")
        return SKIP
    if rc != 0:
        print(f"the run without a failure failed (rc {rc}): {err.strip()}")
        return 1
    failures = 0
    for value, expected in CASES:
        rc, out, err = run(exe, value)
        lines = [l for l in err.splitlines() if l.strip()]
        problems = []
        if rc is None:
            problems.append(f"no exit within {TIMEOUT_S} s: a hang")
        elif rc != 1:
            problems.append(f"exit code {rc}, expected 1")
        if out:
            problems.append("output on stdout")
        if len(lines) != 1 or not lines[0].startswith("offload-ffn: error: " + expected[:6]):
            problems.append(f"{len(lines)} lines on stderr, expected one error line")
        if expected not in err:
            problems.append(f"stderr lacks {expected!r}")
        status = "ok" if not problems else "FAILED: " + "; ".join(problems)
        print(f"OFFLOAD_FFN_TP_FAIL={value}: {status}\n  stderr: {err.strip()}")
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
