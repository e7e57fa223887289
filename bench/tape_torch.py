#!/usr/bin/python3
"""PyTorch twin of bench_tape.c: a chain of N small elementwise ops (100x16) forward +
backward, nanoseconds per op. Run with Debian's /usr/bin/python3 (python3-torch)."""
import argparse, json, time
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--ops", type=int, default=100000)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--mix", choices=["cheap", "transcendental"], default="cheap")
a = ap.parse_args()
torch.set_num_threads(a.threads)
init = 0.5 + 0.0001 * torch.arange(1600, dtype=torch.float32).reshape(100, 16)
times = []
for r in range(a.repeats + 1):
    t0 = time.perf_counter()
    x = init.clone().requires_grad_(True)
    w = init.clone().requires_grad_(True)
    y = x
    for k in range(a.ops):
        m = k & 3
        if m == 0:
            y = torch.tanh(y) if a.mix == "transcendental" else y * w
        elif m == 1:
            y = y + x
        elif m == 2:
            y = torch.sigmoid(y) if a.mix == "transcendental" else y * 0.5
        else:
            y = y - w
    y.sum().backward()
    t = time.perf_counter() - t0
    if r > 0:
        times.append(t)
times.sort()
med = times[len(times) // 2]
print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "ops": a.ops,
                  "mix": a.mix, "seconds_median": round(med, 6), "ns_per_op": round(1e9 * med / a.ops, 1)}))
