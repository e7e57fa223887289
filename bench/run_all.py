"""Runs every terragrad benchmark next to its PyTorch peer, alternately (A B A B A B: same
threads, same environment, one machine, one run), and writes the per-CPU table
bench/results/<cpu>-<date>.md plus the raw JSON lines next to it.

Called by bench/run_all.sh (which builds first); run it with Debian's /usr/bin/python3.
   /usr/bin/python3 bench/run_all.py --build BUILD_DIR [--reps 3] [--threads 1,2] [--quick]

What the table reports, per workload: the median seconds of each side (each side's own
median over its timed steps, then the median over the repetitions), the ratio
peer / terragrad per repetition (median and min-max spread), and how close terragrad comes
to this machine's limit for that workload (sgemm peak or memory bandwidth, measured in the
same run). A ratio belongs to the machine it was measured on: the header names the CPU, its
flags, the OpenBLAS kernel set and the load.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.environ.get("TG_PEER_DIR", os.path.join(ROOT, "..", "shared", "peer"))
DATA = os.environ.get("TG_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
PY = "/usr/bin/python3"


def cpu_facts():
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "asimd", "sve"]
    return model, [f for f in wanted if f in flags]


def load_avg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run_json(cmd, env, timeout=900):
    """Runs cmd, returns (the last JSON object printed, seconds of wall time)."""
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-2000:]))
    obj = None
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            obj = json.loads(line)
    return obj, p.stdout, wall


def hbv_row(stdout, path, threads):
    """bench_hbv prints a table; the row `path hbv (fwd+bwd) threads` carries iter_s."""
    for line in stdout.splitlines():
        m = re.match(r"^(tape|kernel)\s+hbv \(fwd\+bwd\)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if m and m.group(1) == path and int(m.group(2)) == threads:
            return {"iter_s_median": float(m.group(5))}
    raise RuntimeError("bench_hbv: no row for %s / %d threads" % (path, threads))


def workloads(build, threads, quick):
    """(name, terragrad command, peer command, key in each JSON, parser for terragrad)."""
    b = lambda name: os.path.join(build, "bench", name)
    steps = "2" if quick else "3"
    t = str(threads)
    w = []
    w.append(("tape overhead (10^5 ops, 100x16, fwd+bwd)",
              [b("bench_tape"), "--ops", "100000", "--repeats", "3"],
              [PY, os.path.join(HERE, "tape_torch.py"), "--ops", "100000", "--repeats", "3", "--threads", t],
              "seconds_median", None))
    w.append(("HBV fwd+bwd (B=100, 365+365 d, M=16), tape path",
              [b("bench_hbv"), "3" if quick else "5", DATA],
              [PY, os.path.join(PEER, "dpl_bench.py"), "--variant", "hbv", "--threads", t, "--steps", "5"],
              "iter_s_median", lambda out: hbv_row(out, "tape", threads)))
    w.append(("LSTM training step (NH size: B=256, L=365, H=256, 32 inputs)",
              [b("bench_lstm"), "--threads", t, "--steps", steps],
              [PY, os.path.join(PEER, "lstm_bench.py"), "--threads", t, "--steps", steps],
              "iter_s_median", None))
    w.append(("PINN Burgers iteration (10^4 points, 8x20 tanh, Adam)",
              [b("bench_pinn"), "--threads", t, "--steps", "10" if quick else "20"],
              [PY, os.path.join(PEER, "pinn_bench.py"), "--threads", t, "--steps", "10" if quick else "20"],
              "iter_s_median", None))
    w.append(("δHBV full training step (LSTM 256 -> HBV -> routing -> loss -> Adam; B=100, 730 d)",
              [b("bench_dpl_full"), "--threads", t, "--steps", steps],
              [PY, os.path.join(PEER, "dpl_bench.py"), "--variant", "full", "--threads", t, "--steps", steps],
              "iter_s_median", None))
    return w


def sgemm_peak(build, env, threads):
    """The GEMM limit: bench_lstm measures sgemm through the same OpenBLAS at the LSTM's shapes
    and at 2048^3 (`sgemm_peak_max_gflops`); gemm_probe.py measures it through PyTorch."""
    probe = subprocess.run([PY, os.path.join(PEER, "gemm_probe.py"), str(threads)], env=env,
                           capture_output=True, text=True, timeout=300)
    m = re.search(r"'2048x2048x2048': ([0-9.]+)", probe.stdout)
    return float(m.group(1)) if m else float("nan"), probe.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build folder (float, Release) with bench/")
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions per workload")
    ap.add_argument("--threads", default="1", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run, not a measurement)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()

    model, flags = cpu_facts()
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-").lower()[:60]
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, "%s-%s%s" % (slug, date, "-quick" if a.quick else ""))
    raw = open(base + ".jsonl", "w")
    load0 = load_avg()
    rows, facts = [], {}
    for threads in [int(x) for x in a.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        peak, probe_text = sgemm_peak(a.build, env, threads)
        stream, _, _ = run_json([os.path.join(a.build, "bench", "bench_stream"), "--threads", str(threads)], env)
        facts[threads] = {"sgemm_2048_gflops_torch": peak, "stream_gb_s": stream["bandwidth_gb_s"],
                          "probe": probe_text}
        raw.write(json.dumps({"threads": threads, "gemm_probe": probe_text, "stream": stream}) + "\n")
        for name, tg_cmd, peer_cmd, key, parse in workloads(a.build, threads, a.quick):
            tg_s, peer_s, ratios, tg_objs = [], [], [], []
            for r in range(a.reps):
                sys.stderr.write("[%s] %s, %d thread(s), rep %d/%d\n" % (time.strftime("%H:%M:%S"), name, threads,
                                                                         r + 1, a.reps))
                obj, out, _ = run_json(tg_cmd, env)
                if parse:
                    obj = parse(out)
                tg_objs.append(obj)
                pobj, _, _ = run_json(peer_cmd, env)
                raw.write(json.dumps({"workload": name, "threads": threads, "rep": r, "terragrad": obj,
                                      "peer": pobj, "load": load_avg()}) + "\n")
                raw.flush()
                tg_s.append(obj[key])
                peer_s.append(pobj[key])
                ratios.append(pobj[key] / obj[key])
            rows.append({"name": name, "threads": threads, "tg": statistics.median(tg_s),
                         "peer": statistics.median(peer_s), "ratio": statistics.median(ratios),
                         "rmin": min(ratios), "rmax": max(ratios), "tg_objs": tg_objs})
    load1 = load_avg()
    raw.close()

    core = next((o.get("openblas_core") for r in rows for o in r["tg_objs"] if o and o.get("openblas_core")), "?")
    try:
        import torch
        torch_v = torch.__version__
    except Exception:  # the table still says which side ran
        torch_v = "?"
    with open(base + ".md", "w") as f:
        f.write("# terragrad vs PyTorch peers — %s, %s\n\n" % (model, date))
        f.write("- CPU: %s, %d logical CPUs; flags: %s\n" % (model, os.cpu_count(), " ".join(flags)))
        f.write("- OpenBLAS kernel set selected: %s (OPENBLAS_CORETYPE=%s); PyTorch %s; Python %s\n"
                % (core, os.environ.get("OPENBLAS_CORETYPE", "unset"), torch_v, platform.python_version()))
        # the load after includes this benchmark's own 2-thread runs: judge by the load before
        f.write("- load average (1 min) before / after (after includes these runs): %.2f / %.2f%s\n"
                % (load0, load1, " — machine busy before the runs: ratios are less reliable" if load0 > 1.0 else ""))
        for th, fx in facts.items():
            f.write("- limits, %d thread(s): sgemm 2048^3 through PyTorch %.0f GFLOP/s; STREAM triad %.1f GB/s\n"
                    % (th, fx["sgemm_2048_gflops_torch"], fx["stream_gb_s"]))
        f.write("- command: `bash bench/run_all.sh%s` (%d alternating repetitions, terragrad first)\n\n"
                % (" --quick" if a.quick else "", a.reps))
        f.write("| workload | threads | terragrad s | peer s | ratio (median) | spread | limit reached |\n")
        f.write("|---|---|---|---|---|---|---|\n")
        def peak(threads):
            """The machine's sgemm limit: the better of 2048^3 through PyTorch and through
            OpenBLAS in bench_lstm's process (same run, same thread count)."""
            best = facts[threads]["sgemm_2048_gflops_torch"]
            for q in rows:
                for x in q["tg_objs"]:
                    if x and q["threads"] == threads and "sgemm_peak_max_gflops" in x:
                        best = max(best, x["sgemm_peak_max_gflops"])
            return best

        for r in rows:
            lim = ""
            o = r["tg_objs"][len(r["tg_objs"]) // 2] or {}
            if "fraction_of_peak" in o:
                lim = "%.0f %% of sgemm peak (%.1f of %.1f GFLOP/s, same run)" % (
                    100 * statistics.median(x["fraction_of_peak"] for x in r["tg_objs"]),
                    statistics.median(x["achieved_gflops_iter"] for x in r["tg_objs"]), o.get("sgemm_peak_gflops", 0))
            elif "gemm_gflop_step" in o:
                # δHBV step, counted by tg_gemm_stats: the FLOPs of every product that ran, the
                # time inside them, and the share of the step outside them (1 thread: wall time;
                # with more threads the product time is summed over threads, so no share)
                pk = peak(r["threads"])
                rate = statistics.median(x["gemm_gflops"] for x in r["tg_objs"])
                lim = "GEMMs %.0f GFLOP/step at %.0f GFLOP/s (%.0f %% of the sgemm peak)" % (
                    o["gemm_gflop_step"], rate, 100 * rate / pk)
                if r["threads"] == 1:
                    lim += "; outside the GEMMs: %.0f %% of the step" % (
                        100 * statistics.median(x["outside_gemm_fraction_median"] for x in r["tg_objs"]))
            elif "mlp_product_gflop_iter" in o:
                pk = peak(r["threads"])
                rate = statistics.median(x["iter_gflops"] for x in r["tg_objs"])
                lim = "MLP products %.2f GFLOP/iteration: %.0f GFLOP/s over the iteration (%.0f %% of the sgemm peak)" % (
                    o["mlp_product_gflop_iter"], rate, 100 * rate / pk)
            f.write("| %s | %d | %.4g | %.4g | **%.2fx** | %.2f–%.2f | %s |\n" % (
                r["name"], r["threads"], r["tg"], r["peer"], r["ratio"], r["rmin"], r["rmax"], lim))
        f.write("\nRaw JSON of every run: `%s`.\n" % os.path.relpath(base + ".jsonl", ROOT))
    print(base + ".md")


if __name__ == "__main__":
    main()
