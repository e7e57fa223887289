"""A PyTorch training step through terragrad.torch.HBV against the same step through the
pure-PyTorch dHBV (../shared/peer/hbv_torch.py), side by side in one run.

Step: parameters (leaf tensors: u_static (B,13,M), u_dyn (365,B,2,M) for BETA/BETAET,
u_route (B,2)) -> HBV over 365 warm-up + 365 days (no gradient through the warm-up) ->
gamma routing -> masked RMSE against observed Q -> backward -> Adam step. Real forcing of
the first B Caravan basins of the shared data (repeated if B > 200). Prints one JSON line:
median seconds per step of each side, their ratio, and the HBV adapter's share.

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
print(json.dumps({"basins": B, "nmul": M, "days": a.days, "warmup": W, "threads": a.threads,
                  "real": terragrad.real_name, "load1": os.getloadavg()[0],
                  "terragrad_s": res["terragrad"], "hbv_torch_s": res["hbv_torch"],
                  "ratio": res["hbv_torch"] / res["terragrad"],
                  "first_loss": losses}))
