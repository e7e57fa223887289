"""A PyTorch training step through terragrad.torch.HBV against the same step through the
pure-PyTorch dHBV (../shared/peer/hbv_torch.py), side by side in one run.

Step: parameters (leaf tensors: u_static (B,13,M), u_dyn (365,B,2,M) for BETA/BETAET,
u_route (B,2)) -> HBV over 365 warm-up + 365 days (no gradient through the warm-up) ->
gamma routing -> masked RMSE against observed Q -> backward -> Adam step. Real forcing of
the first B Caravan basins of the shared data (repeated if B > 200). Prints one JSON line:
median seconds per step of each side and their ratio, then the HBV part alone (forward +
backward of the HBV-and-routing node with a fixed upstream gradient) on both sides, and the
same work as direct C calls from preallocated arrays in the library's own layout (what a C
program pays: `c_direct_s`), so `adapter_overhead` = HBV part through terragrad.torch / C - 1.
The three HBV-part timings are interleaved (A B C A B C ...).

    OMP_NUM_THREADS=1 TERRAGRAD_LIB=build/libterragrad.so \
        /usr/bin/python3 bench/python_hbv_step.py --basins 100 --nmul 16 --steps 5 --threads 1
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import terragrad  # noqa: E402
import terragrad.torch as tt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--basins", type=int, default=100)
ap.add_argument("--nmul", type=int, default=16)
ap.add_argument("--warmup", type=int, default=365)
ap.add_argument("--days", type=int, default=365)
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
ap.add_argument("--peer", default=os.path.join(HERE, "..", "..", "shared", "peer"))
a = ap.parse_args()
sys.path.insert(0, a.peer)
import hbv_torch  # noqa: E402

torch.set_num_threads(a.threads)
dt = tt.TORCH_DTYPE
T, W, B, M = a.warmup + a.days, a.warmup, a.basins, a.nmul
folder = os.path.join(a.data, "caravan_camels_us", "timeseries")
ids = sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".csv"))
raw = [np.genfromtxt(os.path.join(folder, ids[b % len(ids)] + ".csv"), delimiter=",", max_rows=T,
                     missing_values="NA", filling_values=np.nan) for b in range(B)]
raw = np.stack(raw, 1)
x = torch.tensor(raw[:, :, :3], dtype=dt)
obs = torch.tensor(raw[W:, :, 3], dtype=dt)
g = torch.Generator().manual_seed(0)
init = (torch.rand(B, 13, M, generator=g, dtype=dt), torch.rand(a.days, B, 2, M, generator=g, dtype=dt),
        torch.rand(B, 2, generator=g, dtype=dt))


def make_step(forward):
    ps = [p.clone().requires_grad_() for p in init]
    opt = torch.optim.Adam(ps, lr=1e-3)

    def step():
        q = forward(x, *ps)
        loss = hbv_torch.rmse_masked(q, obs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


sides = {
    "terragrad": make_step(lambda x, us, ud, ur: tt.hbv(x, us, ud, ur, warmup=W)),
    "hbv_torch": make_step(lambda x, us, ud, ur: hbv_torch.dhbv_forward(x, us, ur, warmup=W, u_dyn=ud,
                                                                        dynamic=("BETA", "BETAET"))),
}
def c_direct():
    """The HBV node's work as a C program does it: scale, HBV forward with history, gamma
    routing, and their backward, in the library's layouts, arrays allocated once."""
    import ctypes
    from terragrad import _lib as L
    from terragrad._lib import ptr
    n, Lanes, nd, dyn = a.days, B * M, 2, terragrad.hbv._mask(("BETA", "BETAET"))
    f = np.ascontiguousarray(x.numpy())
    u_s = np.ascontiguousarray(init[0].numpy().transpose(1, 0, 2)).reshape(L.NPARAM, Lanes)
    u_d = np.ascontiguousarray(init[1].numpy().transpose(0, 2, 1, 3)).reshape(n, nd, Lanes)
    u_r = np.ascontiguousarray(init[2].numpy())
    ps, pd = np.empty_like(u_s), np.empty_like(u_d)
    c = L.HbvConfig()
    L.lib.tg_hbv_config_init(ctypes.byref(c), T, W, B, M)
    c.dynamic, c.basin_outputs = dyn, 1
    hist = np.empty(L.lib.tg_hbv_hist_size(ctypes.byref(c)), L.dtype)
    out, g_out = np.zeros((n, L.NOUT, B), L.dtype), np.zeros((n, L.NOUT, B), L.dtype)
    av, th, ga, gth = (np.empty(B, L.dtype) for _ in range(4))
    w, gw = np.empty((B, L.UH_LEN), L.dtype), np.empty((B, L.UH_LEN), L.dtype)
    y, gur = np.empty((n, B), L.dtype), np.empty((B, 2), L.dtype)
    gy = np.full((n, B), 1.0 / (n * B), L.dtype)
    g_ps, g_pd, g_us, g_ud = (np.empty_like(v) for v in (ps, pd, ps, pd))

    def run():
        L.lib.tg_hbv_scale_forward(ptr(ps), ptr(u_s), 1, (1 << L.NPARAM) - 1, Lanes)
        L.lib.tg_hbv_scale_forward(ptr(pd), ptr(u_d), n, dyn, Lanes)
        L.lib.tg_hbv_forward(ptr(out), None, None, ptr(hist), ptr(f), ptr(ps), ptr(pd), None, ctypes.byref(c))
        L.lib.tg_routing_scale_forward(ptr(av), ptr(th), ptr(u_r), B)
        L.lib.tg_uh_gamma_forward(ptr(w), ptr(av), ptr(th), B)
        L.lib.tg_uh_conv_forward(ptr(y), B, ptr(out), L.NOUT * B, ptr(w), n, B)
        for v in (g_ps, g_pd, g_us, g_ud, gw, ga, gth, gur):
            v.fill(0)
        g_out[:, 0, :] = 0
        L.lib.tg_uh_conv_backward(ptr(g_out), L.NOUT * B, ptr(gw), ptr(gy), B, ptr(out), L.NOUT * B, ptr(w), n, B)
        L.lib.tg_uh_gamma_backward(ptr(ga), ptr(gth), ptr(gw), ptr(w), ptr(av), ptr(th), B)
        L.lib.tg_routing_scale_backward(ptr(gur), ptr(ga), ptr(gth), B)
        L.lib.tg_hbv_backward(ptr(g_ps), ptr(g_pd), None, None, ptr(g_out), None, None, ptr(hist), ptr(f),
                              ptr(ps), ptr(pd), ctypes.byref(c))
        L.lib.tg_hbv_scale_backward(ptr(g_us), ptr(g_ps), 1, (1 << L.NPARAM) - 1, Lanes)
        L.lib.tg_hbv_scale_backward(ptr(g_ud), ptr(g_pd), n, dyn, Lanes)
    return run


def hbv_part(forward):
    """Forward + backward of the HBV node alone (upstream gradient fixed: d mean(q))."""
    ps = [p.clone().requires_grad_() for p in init]
    gy = torch.full((a.days, B), 1.0 / (a.days * B), dtype=dt)

    def run():
        for p in ps:
            p.grad = None
        forward(x, *ps).backward(gy)
    return run


res = {}
losses = {}
for name, step in sides.items():
    losses[name] = step()                            # warm-up call (allocations, first touch)
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    res[name] = float(np.median(times))
parts = {"terragrad": hbv_part(lambda x, us, ud, ur: tt.hbv(x, us, ud, ur, warmup=W)),
         "hbv_torch": hbv_part(lambda x, us, ud, ur: hbv_torch.dhbv_forward(x, us, ur, warmup=W, u_dyn=ud,
                                                                           dynamic=("BETA", "BETAET"))),
         "c_direct": c_direct()}
part_times = {k: [] for k in parts}
for k, run in parts.items():
    run()                                            # first touch
for _ in range(a.steps):
    for k, run in parts.items():
        t0 = time.perf_counter()
        run()
        part_times[k].append(time.perf_counter() - t0)
part = {k: float(np.median(v)) for k, v in part_times.items()}
print(json.dumps({"basins": B, "nmul": M, "days": a.days, "warmup": W, "threads": a.threads,
                  "real": terragrad.real_name, "load1": os.getloadavg()[0],
                  "terragrad_s": res["terragrad"], "hbv_torch_s": res["hbv_torch"],
                  "ratio": res["hbv_torch"] / res["terragrad"],
                  "hbv_part_terragrad_s": part["terragrad"], "hbv_part_hbv_torch_s": part["hbv_torch"],
                  "hbv_part_ratio": part["hbv_torch"] / part["terragrad"], "c_direct_s": part["c_direct"],
                  "adapter_overhead": part["terragrad"] / part["c_direct"] - 1,
                  "first_loss": losses}))
