#!/usr/bin/env python3
"""Markdown summary of offload's GPU benchmarks next to the PyTorch peers.

Reads Google Benchmark JSON (bench_pass, bench_profiler_cost, bench_bandwidth,
bench_host_overhead; one file, or several merged as {"benchmarks": [...]}) and
the output of shared/bench/torch_peers.py (one file, or several merged as
{"runs": [...]}), and prints:

  - per cell (stack, K resident, batch): our floor and best pass time, the
    ratio of each prefetch policy to our floor, and beside it the peers' floor
    and their ring / copy-then-compute / naive / accelerate ratios to it;
  - one line per performance target, PASS / FAIL / NO DATA;
  - profiler cost, host overhead per layer and copy bandwidth tables.

Usage: perf-table.py --bench bench.json [--peers peers.json] [--out table.md]
Standard library only.
"""
import argparse
import json
import math
import re
import sys

PREFETCHES = ["none", "la1", "la2", "la4", "la8"]
PEER_COLS = [("ring2", "ring2_ms"), ("ring4", "ring4_ms"), ("serial", "serial_ms"),
             ("naive", "naive_ms"), ("accelerate", "accelerate_ms")]
STACKS = {(32, 4096, 14336): "8B", (256, 1024, 2816): "256x17MB", (512, 512, 1408): "512x4.3MB"}
STACK_ORDER = ["8B", "256x17MB", "512x4.3MB"]

PASS_RE = re.compile(r"^pass/(?P<stack>[^/]+)/K:(?P<k>\d+)/batch:(?P<batch>\d+)/prefetch:(?P<p>[^/]+)"
                     r"(?:/host:(?P<host>[a-z_]+))?")
COST_RE = re.compile(r"^profiler_cost/(?P<stack>[^/]+)/K:(?P<k>\d+)/batch:(?P<batch>\d+)")
BW_RE = re.compile(r"^bandwidth/(?P<dir>h2d|d2h)/(?P<kind>[a-z_]+)/bytes:(?P<bytes>\d+)")
HO_RE = re.compile(r"^host_overhead/(?P<case>[^/]+(?:/[a-z]+/(?:streamed|resident))?)")


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        print(f"perf-table: {path}: not JSON ({e})", file=sys.stderr)
        return None


def bench_entries(doc):
    """Every non-aggregate benchmark entry of one or several Google Benchmark outputs."""
    if doc is None:
        return [], {}
    docs = doc if isinstance(doc, list) else doc.get("runs", [doc])
    out, ctx = [], {}
    for d in docs:
        if not isinstance(d, dict):
            continue
        if not ctx and isinstance(d.get("context"), dict):
            ctx = d["context"]
        for b in d.get("benchmarks", []):
            if b.get("run_type", "iteration") == "iteration":
                out.append(b)
    return out, ctx


def peer_runs(doc):
    if doc is None:
        return []
    if isinstance(doc, list):
        return doc
    if "runs" in doc:
        return doc["runs"]
    return [doc]


def fmt(v, spec=".2f", none="-"):
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return none
    return format(v, spec)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", action="append", default=[], help="Google Benchmark JSON (repeatable)")
    ap.add_argument("--peers", action="append", default=[], help="torch_peers.py JSON (repeatable)")
    ap.add_argument("--out", help="write the table here too")
    a = ap.parse_args()

    entries, ctx = [], {}
    for p in a.bench:
        e, c = bench_entries(load_json(p))
        entries += e
        ctx = ctx or c
    peers = []
    for p in a.peers:
        peers += peer_runs(load_json(p))

    lines = []
    say = lines.append
    gpu = ctx.get("gpu") or next((r.get("device") for r in peers if r.get("device")), "unknown GPU")
    say(f"# offload pass time over the floor: {gpu}")
    say("")
    say(f"Benchmarks: {ctx.get('date', '?')}, host {ctx.get('host_name', '?')}, "
        f"{ctx.get('num_cpus', '?')} CPUs, library build {ctx.get('library_build_type', '?')}.")
    ours_bw = next((b["h2d_GBps"] for b in entries if "h2d_GBps" in b and b.get("name", "").startswith("pass/")),
                   None)
    peer_bw = {STACKS.get((r.get("layers"), r.get("hidden"), r.get("ffn")), "?"): r.get("h2d_pinned_GBps")
               for r in peers}
    ours = fmt(float(ours_bw)) if ours_bw else "-"
    theirs = ", ".join(f"{k} run {fmt(v)} GB/s" for k, v in peer_bw.items()) if peers else "no peers data"
    say(f"Pinned H2D (1 GiB): ours {ours} GB/s; torch_peers: {theirs}.")
    say("Floor = max(streamed bytes / pinned H2D, all-resident compute), each side measured in its own "
        "process; ours and the peers' ratios are each to their own floor. Ratios are median pass / floor.")
    say("")

    # --- pass cells ---------------------------------------------------------
    cells = {}      # (stack, k, batch) -> {prefetch: entry}
    host_src = {}   # (stack, k, batch) -> {host: entry}
    errors = []
    for b in entries:
        m = PASS_RE.match(b.get("name", ""))
        if not m:
            continue
        key = (m["stack"], int(m["k"]), int(m["batch"]))
        if b.get("error_occurred"):
            errors.append(f"{b['name']}: {b.get('error_message', 'error')}")
            continue
        if m["host"]:
            host_src.setdefault(key, {})[m["host"]] = b
        else:
            cells.setdefault(key, {})[m["p"]] = b
    peer_rows = {}
    for r in peers:
        stack = STACKS.get((r.get("layers"), r.get("hidden"), r.get("ffn")))
        for row in r.get("rows", []):
            peer_rows[(stack, row.get("resident"), row.get("batch"))] = row

    def best(key):
        c = cells.get(key, {})
        ms = [(e["ms"], p) for p, e in c.items() if "ms" in e]
        return min(ms) if ms else (None, None)

    def floor_of(key):
        c = cells.get(key, {})
        return next((e["floor_ms"] for e in c.values() if "floor_ms" in e), None)

    keys = sorted(set(cells) | set(peer_rows),
                  key=lambda k: (STACK_ORDER.index(k[0]) if k[0] in STACK_ORDER else 99, k[1], k[2]))
    say("| stack | K | batch | floor ms | best ms | best/floor | " + " | ".join(PREFETCHES) +
        " | torch floor ms | " + " | ".join(c for c, _ in PEER_COLS) + " | best / best ring |")
    say("|" + "---|" * (6 + len(PREFETCHES) + 1 + len(PEER_COLS) + 1))
    for key in keys:
        stack, k, batch = key
        fl = floor_of(key)
        bms, bp = best(key)
        c = cells.get(key, {})
        pr = peer_rows.get(key, {})
        pf = pr.get("floor_ms")
        rings = [pr[c_] for c_ in ("ring2_ms", "ring4_ms") if c_ in pr]
        row = [stack, str(k), str(batch), fmt(fl, ".1f"), fmt(bms, ".1f") + (f" ({bp})" if bp else ""),
               fmt(ratio(bms, fl), ".3f")]
        row += [fmt(ratio(c[p]["ms"], fl)) if p in c and "ms" in c[p] else "-" for p in PREFETCHES]
        row += [fmt(pf, ".1f")]
        row += [fmt(ratio(pr.get(col), pf)) for _, col in PEER_COLS]
        row += [fmt(ratio(bms, min(rings)) if rings else None, ".3f")]
        say("| " + " | ".join(row) + " |")
    say("")

    # --- targets ----------------------------------------------------------------
    say("## Targets")
    say("")

    def verdict(ok, have):
        return "NO DATA" if not have else ("PASS" if ok else "FAIL")

    big = [k for k in keys if k[0] == "8B" and k in cells]
    worst = max(((ratio(best(k)[0], floor_of(k)) or 0, k) for k in big), default=(None, None))
    ok = all((ratio(best(k)[0], floor_of(k)) or 99) <= 1.03 for k in big)
    say(f"- [{verdict(ok, big)}] 8B: every cell within 1.03x of the floor (best policy per cell; "
        f"{len(big)} cells; worst {fmt(worst[0], '.3f')}x at {worst[1] and f'K={worst[1][1]} batch={worst[1][2]}'})")
    la4 = [(ratio(cells[k]["la4"]["ms"], floor_of(k)), k) for k in big if "la4" in cells[k]]
    if la4:
        w = max(la4)
        say(f"  - lookahead<4> alone: worst {fmt(w[0], '.3f')}x at K={w[1][1]} batch={w[1][2]}; "
            f"{sum(1 for r, _ in la4 if r <= 1.03)}/{len(la4)} cells within 1.03x")
    vs_ring = [(ratio(best(k)[0], min(peer_rows[k][c] for c in ("ring2_ms", "ring4_ms") if c in peer_rows[k])), k)
               for k in big if k in peer_rows and any(c in peer_rows[k] for c in ("ring2_ms", "ring4_ms"))]
    w = max(vs_ring, default=(None, None))
    say(f"- [{verdict(all(r <= 1.02 for r, _ in vs_ring), vs_ring)}] 8B: at most 2% slower than the best torch "
        f"ring ({len(vs_ring)} cells with peers; worst {fmt(w[0], '.3f')}x at {w[1] and f'K={w[1][1]} batch={w[1][2]}'})")
    mid = [k for k in keys if k[0] == "256x17MB" and k in cells]
    rs = [(ratio(best(k)[0], floor_of(k)), k) for k in mid]
    w = max(rs, default=(None, None))
    say(f"- [{verdict(all(r <= 1.05 for r, _ in rs), rs)}] 256 x 17 MB: within 1.05x of the floor "
        f"(worst {fmt(w[0], '.3f')}x at {w[1] and f'batch={w[1][2]}'})")
    small = [k for k in keys if k[0] == "512x4.3MB" and k in cells and k in peer_rows]
    sp = []
    for k in small:
        peer_ms = [peer_rows[k][c] for _, c in PEER_COLS if c in peer_rows[k]]
        if peer_ms and best(k)[0]:
            sp.append((min(peer_ms) / best(k)[0], k, min(peer_ms), best(k)[0]))
    w = min(sp, default=(None, None, None, None))
    say(f"- [{verdict(all(s >= 3 for s, *_ in sp), sp)}] 512 x 4.3 MB: at least 3x faster than the best torch peer "
        f"(speed-up {fmt(w[0])}x: ours {fmt(w[3], '.1f')} ms vs {fmt(w[2], '.1f')} ms)")
    costs = []
    for b in entries:
        m = COST_RE.match(b.get("name", ""))
        if m and not b.get("error_occurred") and "ratio" in b:
            costs.append((b["ratio"], m["stack"], int(m["k"]), int(m["batch"]), b))
        elif m:
            errors.append(f"{b['name']}: {b.get('error_message', 'error')}")
    # The target is set on the 8B stack; other stacks are shown for information.
    for label, group in (("8B", [c for c in costs if c[1] == "8B"]), ("other stacks", [c for c in costs if c[1] != "8B"])):
        if not group:
            continue
        w = max(group)
        tag = verdict(all(c[0] <= 1.01 for c in group), group) if label == "8B" else "info"
        say(f"- [{tag}] {label}: profile::events costs at most 1% over profile::none ({len(group)} cases; worst "
            f"{fmt((w[0] - 1) * 100, '+.2f')}% at {w[1]} K={w[2]} batch={w[3]})")
    checks = [e for c in cells.values() for e in c.values()]
    bad_bits = [e["name"] for e in checks if e.get("bit_identical") == 0]
    nonfinite = [e["name"] for e in checks if e.get("nonfinite", 0) > 0]
    say(f"- [{verdict(not bad_bits and not nonfinite, checks)}] every offloaded pass gives the all-resident "
        f"output bit for bit, with no NaN/Inf ({len(checks)} cases" +
        (f"; differing: {', '.join(bad_bits[:4])}" if bad_bits else "") +
        (f"; non-finite: {', '.join(nonfinite[:4])}" if nonfinite else "") + ")")
    for key, d in sorted(host_src.items()):
        lib = d.get("library_pinned")
        shared = cells.get(key, {}).get("la4")
        if lib and shared and "ms" in lib and "ms" in shared:
            say(f"- [info] {key[0]} K={key[1]} batch={key[2]} la4: library's own pinned copies "
                f"{fmt(lib['ms'], '.1f')} ms vs shared pinned {fmt(shared['ms'], '.1f')} ms "
                f"({fmt(ratio(lib['ms'], shared['ms']), '.3f')}x)")
    if errors:
        say("")
        say("Errors:")
        for e in errors:
            say(f"- {e}")
    say("")

    # --- profiler cost ----------------------------------------------------------
    if costs:
        say("## Profiler cost (lookahead<4>, passes alternating)")
        say("")
        say("| stack | K | batch | none ms | events ms | cost % | host none ms | host events ms | events: overlap eff | events: H2D GB/s |")
        say("|---|---|---|---|---|---|---|---|---|---|")
        for r, stack, k, batch, b in sorted(costs, key=lambda c: (c[1], c[2], c[3])):
            say(f"| {stack} | {k} | {batch} | {fmt(b.get('none_ms'), '.2f')} | {fmt(b.get('events_ms'), '.2f')} | "
                f"{fmt((r - 1) * 100, '+.2f')} | {fmt(b.get('host_none_ms'), '.3f')} | "
                f"{fmt(b.get('host_events_ms'), '.3f')} | {fmt(b.get('stats_overlap_eff'))} | "
                f"{fmt(b.get('stats_h2d_GBps'), '.1f')} |")
        say("")

    # --- host overhead ------------------------------------------------------------
    ho = []
    for b in entries:
        m = HO_RE.match(b.get("name", ""))
        if m and not b.get("error_occurred"):
            ho.append((m["case"], b))
    if ho:
        say("## Host overhead per layer step (1000 layers x 4 KiB, no compute)")
        say("")
        say("| case | us / layer (pass loop) | us / layer (with sync) |")
        say("|---|---|---|")
        for case, b in ho:
            say(f"| {case} | {fmt(b.get('us_per_layer'), '.3f')} | {fmt(b.get('us_per_layer_synced'), '.3f')} |")
        say("")

    # --- bandwidth ------------------------------------------------------------------
    bw = {}
    for b in entries:
        m = BW_RE.match(b.get("name", ""))
        if m and not b.get("error_occurred"):
            bw.setdefault(int(m["bytes"]), {})[f"{m['dir']} {m['kind']}"] = b.get("GBps")
    if bw:
        cols = ["h2d pinned", "h2d pageable", "h2d write_combined", "d2h pinned"]
        say("## Copy bandwidth (GB/s, CUDA events)")
        say("")
        say("| bytes | " + " | ".join(cols) + " |")
        say("|---|" + "---|" * len(cols))
        for n in sorted(bw):
            size = f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
            say(f"| {size} | " + " | ".join(fmt(bw[n].get(c), ".1f") for c in cols) + " |")
        say("")

    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
