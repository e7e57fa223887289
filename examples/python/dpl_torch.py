"""A complete differentiable-parameter-learning (dPL) training in PyTorch with terragrad's HBV:

    forcing -> torch LSTM -> sigmoid -> terragrad.torch.HBV (16 components, dynamic BETA and
    BETAET, gamma routing) -> 1 - NSE loss -> torch Adam

on 5 Caravan basins (shared data): trains on 1981-1990 with random 730-day windows (365
warm-up + 365 days), tests on 1991-1995 (after a 1990 warm-up) and prints the test NSE.
The only terragrad line is the HBV; the rest is plain PyTorch, as in dMG / hydrodl2.
Exit status 1 if the training loss did not fall (CI runs this file).

    TERRAGRAD_LIB=build/libterragrad.so /usr/bin/python3 examples/python/dpl_torch.py [DATA]
"""
import os
import sys
import time

import numpy as np
import torch

import terragrad
from terragrad.torch import HBV

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data")
BASINS = ["01022500", "01031500", "01047000", "01057000", "01134500"]
NMUL, WARMUP, WINDOW = 16, 365, 365
ITERS = int(os.environ.get("DPL_ITERS", "60"))
DAY = lambda y: (np.datetime64(f"{y}-01-01") - np.datetime64("1981-01-01")).astype(int)  # noqa: E731

torch.manual_seed(0)
torch.set_num_threads(1)
dtype = HBV_DTYPE = torch.float32 if terragrad.real_name == "float" else torch.float64

# ---- data: (T, B, 3) forcing P, T, PET and (T, B) observed Q (NaN = missing)
raw = np.stack([np.genfromtxt(os.path.join(DATA, "caravan_camels_us", "timeseries", b + ".csv"), delimiter=",",
                              max_rows=DAY(1996), missing_values="NA", filling_values=np.nan) for b in BASINS], 1)
x_phy = torch.tensor(raw[:, :, :3], dtype=dtype)
q_obs = torch.tensor(raw[:, :, 3], dtype=dtype)
train_end, test_start = DAY(1991), DAY(1991)
mu = x_phy[:train_end].mean((0, 1))
sd = x_phy[:train_end].std((0, 1))
x_nn = (x_phy - mu) / sd                         # normalised network inputs


class ParamLSTM(torch.nn.Module):
    """Forcing -> parameters in [0, 1] per day: 13 x NMUL HBV + 2 routing (the dMG layout)."""

    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, hidden)
        self.head = torch.nn.Linear(hidden, 13 * NMUL + 2)

    def forward(self, x):
        h, _ = self.lstm(x)
        return torch.sigmoid(self.head(h))


net = ParamLSTM().to(dtype)
hbv = HBV(nmul=NMUL, warmup=WARMUP, dynamic=("BETA", "BETAET"), routing=True)   # <- the terragrad line
opt = torch.optim.Adam(net.parameters(), lr=5e-3)


def nse_loss(q, obs):
    """mean over basins of 1 - NSE (missing days masked), the δHBV training loss family."""
    m = ~torch.isnan(obs)
    o = torch.where(m, obs, torch.zeros_like(obs))
    n = m.sum(0).clamp_min(1)
    mean = o.sum(0) / n
    sse = (((q - o) * m) ** 2).sum(0)
    sst = (((o - mean) * m) ** 2).sum(0).clamp_min(1e-6)
    return (sse / sst).mean()


t0 = time.time()
losses = []
rng = np.random.default_rng(0)
for it in range(ITERS):
    s = int(rng.integers(0, train_end - WARMUP - WINDOW))
    sl = slice(s, s + WARMUP + WINDOW)
    params = net(x_nn[sl])
    q = hbv(({"x_phy": x_phy[sl]}, params))["streamflow"][..., 0]
    loss = nse_loss(q, q_obs[s + WARMUP:s + WARMUP + WINDOW])
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
    if it % 10 == 0 or it == ITERS - 1:
        print(f"iter {it:3d}  loss (1 - NSE) {loss.item():.4f}  {time.time() - t0:5.1f} s", flush=True)

# ---- test: 1991-1995 after a 1990 warm-up
with torch.no_grad():
    sl = slice(test_start - WARMUP, DAY(1996))
    q = hbv(({"x_phy": x_phy[sl]}, net(x_nn[sl])))["streamflow"][..., 0]
m = terragrad.metrics(q.numpy(), q_obs[test_start:DAY(1996)].numpy())
m.index = BASINS
print(m[["NSE", "KGE"]].to_string(float_format=lambda v: f"{v:.3f}"))
first, last = np.mean(losses[:10]), np.mean(losses[-10:])
print(f"test NSE median {m.NSE.median():.3f}; training loss {first:.3f} -> {last:.3f}; {time.time() - t0:.1f} s")
sys.exit(0 if last < first else 1)
