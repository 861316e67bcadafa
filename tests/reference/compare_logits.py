#!/usr/bin/env python3
"""Compares offload-llama's logits with transformers' at every position.

  compare_logits.py REFERENCE.npy LOGITS.npy [--tolerance R] [--label NAME]

Both files are float32 [positions x vocab] .npy (make_llama.py --reference-logits
and offload-llama --logits write them). The tolerance on a logit is R times the
root mean square of the reference logits (default R = 0.2: bf16 activations
carry a relative rounding of 2^-9 at every step, and the two sides round at
different places; on a 16-layer 1B-shaped random model on an H200,
2026-11-28, the largest difference over 64 positions was 0.148 RMS, the
largest relative error 3.4%, with every residency and prefetch policy giving
the same logits). Prints one line of JSON:

  max_abs_error, max_rel_error   over all positions; a position's relative error
                                 is its largest |difference| over its largest |reference logit|
  per_position                   [max abs error, relative error] of each position
  greedy_agreement               share of positions with the same argmax
  decided_positions              positions whose reference top-1 leads its top-2 by
                                 more than the tolerance
  decided_agreement              share of those with the same argmax (must be 1)
  ok                             decided_agreement == 1 and max_abs_error <= tolerance

Exits 1 when not ok, 2 on a file it cannot read. Standard library only (a
64 x 128256 comparison takes a few seconds).
"""
import argparse
import array
import ast
import heapq
import json
import math
import operator
import sys


def read_npy(path):
    """A little-endian float32 2-D .npy file (format 1.x or 2.x): (rows, cols, array of floats)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    length_bytes = 2 if data[6] == 1 else 4
    header_length = int.from_bytes(data[8:8 + length_bytes], "little")
    start = 8 + length_bytes
    header = ast.literal_eval(data[start:start + header_length].decode("latin1"))
    if header.get("descr") != "<f4" or header.get("fortran_order") or len(header.get("shape", ())) != 2:
        raise ValueError(f"{path}: expected a C-ordered little-endian float32 2-D array, got {header}")
    rows, cols = header["shape"]
    values = array.array("f")
    values.frombytes(data[start + header_length:])
    if sys.byteorder != "little":
        values.byteswap()
    if len(values) != rows * cols:
        raise ValueError(f"{path}: {len(values)} values for shape ({rows}, {cols})")
    return rows, cols, values


def argmax(row):
    return max(range(len(row)), key=row.__getitem__)


def compare(reference, logits, relative_tolerance):
    rows, cols, ref = reference
    if (rows, cols) != logits[:2]:
        raise ValueError(f"shapes differ: reference ({rows}, {cols}), logits {logits[:2]}")
    ours = logits[2]
    tolerance = relative_tolerance * math.sqrt(math.fsum(v * v for v in ref) / len(ref))
    per_position, same, decided = [], [], []
    for p in range(rows):
        r, o = ref[p * cols:(p + 1) * cols], ours[p * cols:(p + 1) * cols]
        error = max(map(abs, map(operator.sub, o, r)))
        scale = max(map(abs, r)) or math.ulp(0.0)
        per_position.append([round(error, 6), round(error / scale, 6)])
        same.append(argmax(r) == argmax(o))
        top = heapq.nlargest(2, r)
        decided.append(top[0] - top[1] > tolerance)
    decided_same = [s for s, d in zip(same, decided) if d]
    decided_agreement = sum(decided_same) / len(decided_same) if decided_same else 1.0
    max_abs = max(e for e, _ in per_position)
    return {
        "positions": rows,
        "vocab": cols,
        "relative_tolerance": relative_tolerance,
        "tolerance": tolerance,
        "max_abs_error": max_abs,
        "max_rel_error": max(r for _, r in per_position),
        "per_position": per_position,
        "greedy_agreement": sum(same) / rows,
        "decided_positions": len(decided_same),
        "decided_agreement": decided_agreement,
        "disagreeing_decided_positions": [p for p in range(rows) if decided[p] and not same[p]],
        "ok": decided_agreement == 1.0 and max_abs <= tolerance,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", help="transformers' logits (.npy)")
    parser.add_argument("logits", help="offload-llama's logits (.npy)")
    parser.add_argument("--tolerance", type=float, default=0.2,
                        help="tolerance as a multiple of the reference logits' RMS (default 0.2)")
    parser.add_argument("--label", default="", help="a name for the run, copied into the output")
    args = parser.parse_args()
    if not args.tolerance > 0:
        parser.error("--tolerance must be positive")
    try:
        result = compare(read_npy(args.reference), read_npy(args.logits), args.tolerance)
    except (OSError, ValueError) as e:
        print(f"compare_logits.py: {e}", file=sys.stderr)
        return 2
    if args.label:
        result = {"label": args.label, **result}
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
