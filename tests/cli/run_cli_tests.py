#!/usr/bin/env python3
"""Runs an example program (offload-ffn, offload-llama) on every command line of its data files.

    run_cli_tests.py PROGRAM BAD_OPTIONS GOOD_OPTIONS [--failing FAILING] [--report] [--set NAME=VALUE ...]

A bad command line must exit with code 2 (not a signal, not 1), print nothing
on stdout and exactly one line on stderr, of the form
"offload-ffn: error: <option>: ..." naming the option that the data file gives
and saying what is allowed. A good command line must exit with 0 and print one
line of JSON on stdout (with --codec other than none, holding
run.codec_output_relative_l2). With --report (offload-ffn), that holds for the
good lines with --json only: the others must print the report, whose lines
give the floor of a pass, the pass and its ratio to the floor, the mode
(decode-loop with --decode-loop) and the offloader's summary, and the JSON,
wherever it is (stdout, --stats-json), must carry the floor fields with the
mode in run. Every option listed by `offload-ffn --help` must be
named by at least two bad command lines, so that a new option comes with its
cases. A failing command line (--failing: a good command line whose run
cannot go on, such as a missing model) must exit with code 1, print nothing on
stdout and one line on stderr, "<program>: error: ..." holding the text that
the data file gives. --set NAME=VALUE replaces @NAME@ in every line (the good
lines' @DIR@ is a fresh temporary directory). The program's name in the
messages is the executable's. Exits with 1 if any check fails, listing each
failure. Standard library only.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

PROGRAM = "offload-ffn"  # set from the executable's name in main()
REPORT = False  # --report: a report on stdout unless --json, and the floor in the JSON
TIMEOUT_S = 120  # per command line; a sanitized build on a busy machine is slow to start
MIN_CASES_PER_OPTION = 2


def read_cases(path, with_option, substitutions):
    """(line number, option or None, argv) for each non-comment line, @NAME@ replaced."""
    cases = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            option = None
            if with_option == "quoted":  # the first word, quoted as in a shell
                option, *argv = shlex.split(line)
            else:
                if with_option:  # the first word as written: a quoted stray argument stays quoted
                    option, _, line = line.partition(" ")
                argv = shlex.split(line)
            for name, value in substitutions.items():
                argv = [a.replace(f"@{name}@", value) for a in argv]
            cases.append((number, option, argv))
    return cases


def run(exe, argv, cwd):
    try:
        p = subprocess.run([exe] + argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT_S, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, b"", b""
    return p.returncode, p.stdout, p.stderr


def describe_exit(rc):
    if rc is None:
        return f"no exit within {TIMEOUT_S} s"
    if rc < 0:
        return f"killed by signal {-rc}"
    return f"exit code {rc}"


def check_bad(exe, case, cwd):
    number, option, argv = case
    rc, out, err = run(exe, argv, cwd)
    text = err.decode("utf-8", errors="replace")
    problems = []
    if rc != 2:
        problems.append(describe_exit(rc) + ", expected 2")
    if out:
        problems.append(f"{len(out)} bytes on stdout, expected none")
    lines = text.split("\n")
    if not text.endswith("\n") or len(lines) != 2 or "\r" in text:
        problems.append(f"{text.count(chr(10))} lines on stderr, expected exactly one")
    first = lines[0]
    prefix = f"{PROGRAM}: error: {option}: "
    if not first.startswith(prefix) or len(first) == len(prefix):
        problems.append(f"stderr does not start with {prefix!r} and a message")
    if "allowed" not in first:
        problems.append("stderr does not say what is allowed")
    return number, argv, problems, text


def check_failing(exe, case, cwd):
    number, expected, argv = case
    rc, out, err = run(exe, argv, cwd)
    text = err.decode("utf-8", errors="replace")
    problems = []
    if rc != 1:
        problems.append(describe_exit(rc) + ", expected 1")
    if out:
        problems.append(f"{len(out)} bytes on stdout, expected none")
    if not text.endswith("\n") or text.count("\n") != 1 or "\r" in text:
        problems.append(f"{text.count(chr(10))} lines on stderr, expected exactly one")
    if not text.startswith(f"{PROGRAM}: error: "):
        problems.append(f"stderr does not start with {PROGRAM + ': error: '!r}")
    if expected not in text:
        problems.append(f"stderr does not say {expected!r}")
    return number, argv, problems, text


def check_good(exe, case, cwd):
    number, _, argv = case
    with tempfile.TemporaryDirectory(prefix="offload-cli-") as d:
        argv = [a.replace("@DIR@", d) for a in argv]
        rc, out, err = run(exe, argv, cwd)
        text = err.decode("utf-8", errors="replace")
        problems = []
        if rc != 0:
            problems.append(describe_exit(rc) + ", expected 0")
        stdout = out.decode("utf-8", errors="replace")
        json_on_stdout = not REPORT or "--json" in argv
        doc = check_json_stdout(stdout, problems) if json_on_stdout else check_report(stdout, argv, problems)
        if REPORT and doc is not None:
            check_floor_json(doc, argv, problems)
        for flag in ("--stats-json", "--trace"):
            if flag in argv:
                path = argv[argv.index(flag) + 1]
                try:
                    with open(path, encoding="utf-8") as f:
                        written = f.read()
                    written_doc = json.loads(written)
                    if flag == "--stats-json" and json_on_stdout and written != stdout:
                        problems.append(f"{flag} file differs from stdout")
                    if flag == "--stats-json" and not json_on_stdout:
                        doc = written_doc
                        check_floor_json(doc, argv, problems)
                except (OSError, ValueError) as e:
                    problems.append(f"{flag} {path}: {e}")
        codec = next((a.split("=", 1)[1] for a in argv if a.startswith("--codec=")), None)
        if "--codec" in argv:
            codec = argv[argv.index("--codec") + 1]
        if doc is not None and codec not in (None, "none") and "codec_output_relative_l2" not in doc.get("run", {}):
            problems.append(f"--codec {codec}: no run.codec_output_relative_l2 in the JSON")
        if not json_on_stdout and codec not in (None, "none") and "relative L2" not in stdout:
            problems.append(f"--codec {codec}: the report does not give the output's relative L2")
        if "--summary-every" in argv and int(argv[argv.index("--summary-every") + 1]) > 0:
            if "offload: " not in text:
                problems.append("--summary-every printed no summary on stderr")
    return number, argv, problems, text


def check_json_stdout(stdout, problems):
    """The JSON document on stdout (one line, with run and stats), or None."""
    doc = None
    if stdout.count("\n") != 1 or not stdout.endswith("\n"):
        problems.append(f"{stdout.count(chr(10))} lines on stdout, expected one line of JSON")
    try:
        doc = json.loads(stdout)
    except ValueError as e:
        problems.append(f"stdout is not JSON: {e}")
    if doc is not None:
        try:
            if doc["stats"]["counters"]["passes"] != doc["run"]["passes"]:
                problems.append("stats.counters.passes differs from run.passes")
            if doc["stats"]["counters"]["aborted_passes"] != 0:
                problems.append("aborted passes in a good run")
        except (KeyError, TypeError) as e:
            problems.append(f"JSON lacks run/stats fields: {e!r}")
    return doc


# The report's lines (--report), each "  <label> <figure>"; a small run on the
# host backend measures every figure, so none may be absent ("-").
REPORT_FIGURES = {
    "streamed": r"\d+(\.\d+)? (bytes|kB|MB|GB) host to device a pass",
    "H2D": r"\d+\.\d+ GB/s pinned",
    "transfer": r"\d+\.\d+ ms",
    "compute": r"\d+\.\d+ ms  all-resident pass",
    "floor": r"\d+\.\d+ ms  (max\(transfer, compute\)|compute alone|transfer alone)",
    "pass": r"\d+\.\d+ ms  mean of \d+ pass",
    "ratio": r"\d+\.\d+x the floor",
}


def check_report(stdout, argv, problems):
    """The report on stdout (--report without --json): its figures, mode and summary. Returns None."""
    lines = stdout.splitlines()
    if stdout.lstrip().startswith("{"):
        problems.append("stdout is JSON, expected the report (no --json given)")
    for label, pattern in REPORT_FIGURES.items():
        line = next((l for l in lines if l.startswith(f"  {label} ")), None)
        if line is None:
            problems.append(f"the report has no {label!r} line")
        elif not re.match(rf"^  {re.escape(label)} +{pattern}", line):
            problems.append(f"the report's {label!r} line does not read {pattern!r}: {line!r}")
    mode = "decode-loop" if "--decode-loop" in argv else "back-to-back"
    if not any(l.startswith("  passes ") and mode in l for l in lines):
        problems.append(f"the report's 'passes' line does not say {mode}")
    if not any(re.match(r"^offload: \d+ passes, ", l) for l in lines):
        problems.append("the report has no summary table (offload: N passes, ...)")
    return None


def check_floor_json(doc, argv, problems):
    """The floor and the mode in the JSON's run object (--report)."""
    run = doc.get("run", {}) if isinstance(doc, dict) else {}
    for field in ("floor_streamed_bytes", "floor_h2d_GBps", "floor_transfer_ms", "floor_compute_ms", "floor_ms",
                  "ratio_to_floor"):
        value = run.get(field)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            problems.append(f"run.{field} is {value!r}, expected a measured figure")
    if isinstance(run.get("floor_ms"), (int, float)) and run.get("floor_ms", 0) > 0:
        expected = run.get("wall_ms_per_pass", 0) / run["floor_ms"]
        if abs(run.get("ratio_to_floor", 0) - expected) > 1e-6 * max(1.0, expected):
            problems.append("run.ratio_to_floor is not run.wall_ms_per_pass / run.floor_ms")
    counters = doc.get("stats", {}).get("counters", {}) if isinstance(doc, dict) else {}
    if counters.get("passes") and counters.get("bytes_host_to_device", 0) / counters["passes"] != \
            run.get("floor_streamed_bytes"):
        problems.append("run.floor_streamed_bytes is not stats.counters.bytes_host_to_device / passes")
    mode = "decode-loop" if "--decode-loop" in argv else "back-to-back"
    if run.get("mode") != mode:
        problems.append(f"run.mode is {run.get('mode')!r}, expected {mode!r}")


def help_options(exe):
    rc, out, _ = run(exe, ["--help"], None)
    if rc != 0:
        sys.exit(f"{PROGRAM} --help: {describe_exit(rc)}")
    names = set()
    for line in out.decode().splitlines():
        m = re.match(r"^\s+(?:-\w \[ )?--([a-z][a-z0-9-]*)", line)
        if m:
            names.add("--" + m.group(1))
    return names


def main():
    global PROGRAM, REPORT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program")
    parser.add_argument("bad_options")
    parser.add_argument("good_options")
    parser.add_argument("--failing", help="command lines that must exit with 1")
    parser.add_argument("--report", action="store_true",
                        help="good lines print a report unless --json, and the JSON carries the floor")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="replace @NAME@ by VALUE")
    args = parser.parse_args()
    substitutions = dict(s.split("=", 1) for s in args.set)
    exe, bad_file, good_file = os.path.abspath(args.program), args.bad_options, args.good_options
    PROGRAM = os.path.basename(exe)
    REPORT = args.report
    bad = read_cases(bad_file, True, substitutions)
    good = read_cases(good_file, False, substitutions)
    failing = read_cases(args.failing, "quoted", substitutions) if args.failing else []

    failures = []
    covered = {}
    for _, option, _ in bad:
        covered[option] = covered.get(option, 0) + 1
    options = help_options(exe)
    for name in sorted(options):
        if covered.get(name, 0) < MIN_CASES_PER_OPTION:
            failures.append(f"{bad_file}: option {name} (from --help) is named by {covered.get(name, 0)} "
                            f"bad command lines, expected at least {MIN_CASES_PER_OPTION}")

    workers = max(1, min(4, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="offload-cli-cwd-") as cwd, \
            concurrent.futures.ThreadPoolExecutor(workers) as pool:
        jobs = [(bad_file, pool.submit(check_bad, exe, c, cwd)) for c in bad]
        jobs += [(good_file, pool.submit(check_good, exe, c, cwd)) for c in good]
        jobs += [(args.failing, pool.submit(check_failing, exe, c, cwd)) for c in failing]
        for path, job in jobs:
            number, argv, problems, err = job.result()
            if problems:
                failures.append(f"{path}:{number}: {PROGRAM} {shlex.join(argv)}\n    " + "; ".join(problems) +
                                "\n    stderr: " + (err.rstrip("\n").replace("\n", "\n            ") or "(empty)"))
        leftovers = os.listdir(cwd)
        if leftovers:
            failures.append(f"bad command lines left files in the working directory: {leftovers}")

    for f in failures:
        print(f)
    print(f"{PROGRAM}: {len(bad)} bad, {len(good)} good and {len(failing)} failing command lines, "
          f"{len(options)} options in --help: "
          + ("all passed" if not failures else f"{len(failures)} failures"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
