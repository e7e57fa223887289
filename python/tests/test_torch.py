"""terragrad.torch.HBV against the pure-PyTorch dHBV (../shared/peer/hbv_torch.py) on real
forcing of 5 basins, 365 warm-up + 365 days, nmul 16, dynamic BETA and BETAET; gradcheck."""
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from conftest import BASINS5, PEER, caravan, rel_close  # noqa: E402

W, N, M = 365, 365, 16


@pytest.fixture(scope="module")
def tt():
    import terragrad.torch as tt
    return tt


@pytest.fixture(scope="module")
def peer():
    if not os.path.isfile(os.path.join(PEER, "hbv_torch.py")):
        pytest.skip(f"no hbv_torch.py in {PEER}")
    sys.path.insert(0, PEER)
    import hbv_torch
    return hbv_torch


@pytest.fixture(scope="module")
def compared(tt, peer):
    """One forward + backward of both on the same inputs (the peer takes ~7 s)."""
    dt = tt.TORCH_DTYPE
    x = torch.tensor(np.stack([caravan(b, W + N)[:, :3] for b in BASINS5], 1), dtype=dt)
    B = len(BASINS5)
    g = torch.Generator().manual_seed(3)
    us = torch.rand(B, 13, M, generator=g, dtype=dt).requires_grad_()
    ud = torch.rand(N, B, 2, M, generator=g, dtype=dt).requires_grad_()
    ur = torch.rand(B, 2, generator=g, dtype=dt).requires_grad_()
    wgt = torch.rand(N, B, generator=g, dtype=dt)      # loss = sum(wgt * Q): every day and basin seeded
    hbv = tt.HBV(nmul=M, warmup=W, dynamic=("BETA", "BETAET"), routing=True)
    q1 = hbv(x, us, ud, ur)
    (q1 * wgt).sum().backward()
    g1 = [t.grad.clone() for t in (us, ud, ur)]
    for t in (us, ud, ur):
        t.grad = None
    q2 = peer.dhbv_forward(x, us, ur, warmup=W, u_dyn=ud, dynamic=("BETA", "BETAET"))
    (q2 * wgt).sum().backward()
    g2 = [t.grad.clone() for t in (us, ud, ur)]
    return q1.detach(), q2.detach(), g1, g2


def _tol(tt):
    # the tolerances: float32 outputs 1e-5 / gradients 1e-4, float64 1e-10 / 1e-8
    return (1e-5, 1e-4) if tt.TORCH_DTYPE == torch.float32 else (1e-10, 1e-8)


def test_outputs_equal_peer(tt, compared):
    q1, q2, _, _ = compared
    rtol, _ = _tol(tt)
    assert q1.shape == (N, len(BASINS5))
    assert q2.abs().max() > 1.0                                 # real floods, not a flat line
    # atol: a day of (almost) no flow rounds in absolute terms; 1e-3 of rtol of the peak
    ok, why = rel_close(q1.numpy(), q2.numpy(), rtol, rtol * 1e-3 * q2.abs().max().item())
    assert ok, why


@pytest.mark.parametrize("which", [0, 1, 2], ids=["static", "dynamic", "routing"])
def test_gradients_equal_peer(tt, compared, which):
    _, _, g1, g2 = compared
    _, rtol = _tol(tt)
    a, b = g1[which].numpy(), g2[which].numpy()
    assert a.shape == b.shape and np.abs(b).max() > 0
    # atol: 1e-2 rtol of the largest gradient of the same tensor — a component that is
    # 1e4 x smaller than the largest is the sum of terms as large as the largest, so its
    # rounding is absolute at that scale (float32: 1e-6 of max, ~8 epsilons)
    ok, why = rel_close(a, b, rtol, 1e-2 * rtol * np.abs(b).max())
    assert ok, why
    # and many of them are compared in relative terms, not swallowed by atol (zeros are
    # parameters without effect: static BETA/BETAET after the warm-up, dry-day BETA, ...)
    assert (np.abs(b) > 1e-2 * np.abs(b).max()).sum() >= min(50, b.size // 4)


def test_gradcheck_float64(tt):
    if tt.TORCH_DTYPE != torch.float64:
        pytest.skip("gradcheck needs the double library (TERRAGRAD_LIB=libterragrad-hydro-double.so)")
    x = torch.tensor(np.stack([caravan(b, 120)[:, :3] for b in BASINS5[:2]], 1), dtype=torch.float64)
    x = x[60:120].contiguous()                                   # spring: snow, melt and rain
    g = torch.Generator().manual_seed(5)
    B, Mg, Wg, n = 2, 2, 10, 50
    us = (0.2 + 0.6 * torch.rand(B, 13, Mg, generator=g, dtype=torch.float64)).requires_grad_()
    ud = (0.2 + 0.6 * torch.rand(n, B, 2, Mg, generator=g, dtype=torch.float64)).requires_grad_()
    ur = (0.2 + 0.6 * torch.rand(B, 2, generator=g, dtype=torch.float64)).requires_grad_()

    def f(us, ud, ur):
        return tt.hbv(x, us, ud, ur, warmup=Wg, warmup_grad=True)

    assert torch.autograd.gradcheck(f, (us, ud, ur), eps=1e-7, atol=1e-6, rtol=1e-5)


def test_forcing_gradient(tt):
    """d Q / d forcing (P, T, PET) against central differences (double) / the peer sign."""
    dt = tt.TORCH_DTYPE
    x = torch.tensor(np.stack([caravan(b, 90)[:, :3] for b in BASINS5[:2]], 1), dtype=dt).requires_grad_()
    g = torch.Generator().manual_seed(7)
    us = torch.rand(2, 13, 2, generator=g, dtype=dt)
    q = tt.hbv(x, us, None, None, warmup=30, dynamic=())
    q.sum().backward()
    gx = x.grad
    assert torch.all(gx[:30] == 0)                               # no gradient into the warm-up rows
    assert gx[30:, :, 0].sum() > 0                                # more rain, more flow
    if dt == torch.float64:
        t, b = 50, 0
        h = 1e-6
        xp, xm = x.detach().clone(), x.detach().clone()
        xp[t, b, 0] += h
        xm[t, b, 0] -= h
        fd = (tt.hbv(xp, us, None, None, 30, ()).sum() - tt.hbv(xm, us, None, None, 30, ()).sum()) / (2 * h)
        assert abs(fd.item() - gx[t, b, 0].item()) <= 1e-6 * abs(fd.item()) + 1e-9


def test_dmg_call_convention(tt):
    """model((x_dict, parameters)) with parameters (T, B, 13 nmul + 2) as dMG passes them."""
    dt = tt.TORCH_DTYPE
    T, B, Mm, Wd = 80, 2, 3, 20
    x = torch.tensor(np.stack([caravan(b, T)[:, :3] for b in BASINS5[:B]], 1), dtype=dt)
    par = torch.rand(T, B, 13 * Mm + 2, generator=torch.Generator().manual_seed(2), dtype=dt)
    hbv = tt.HBV(nmul=Mm, warmup=Wd)
    out = hbv(({"x_phy": x}, par))["streamflow"]
    phy = par[:, :, :13 * Mm].reshape(T, B, 13, Mm)
    direct = hbv(x, phy[-1], phy[Wd:, :, [0, 12]], par[-1, :, 13 * Mm:])
    assert out.shape == (T - Wd, B, 1)
    assert torch.equal(out[..., 0], direct)


def test_device_and_dtype_errors(tt):
    other = torch.float64 if tt.TORCH_DTYPE == torch.float32 else torch.float32
    x = torch.rand(40, 1, 3, dtype=other)
    us = torch.rand(1, 13, 2, dtype=other)
    with pytest.raises(TypeError, match="build"):
        tt.hbv(x, us, None, None, warmup=10, dynamic=())
    meta = torch.rand(40, 1, 3, dtype=tt.TORCH_DTYPE, device="meta")
    with pytest.raises(ValueError, match="CPU only"):
        tt.hbv(meta, us.to(tt.TORCH_DTYPE), None, None, warmup=10, dynamic=())
    with pytest.raises(ValueError, match="u_dyn"):
        tt.hbv(torch.rand(40, 1, 3, dtype=tt.TORCH_DTYPE), torch.rand(1, 13, 2, dtype=tt.TORCH_DTYPE),
               torch.rand(30, 1, 1, 2, dtype=tt.TORCH_DTYPE), None, warmup=10)


def test_pending_backward_survives_later_calls(tt):
    """Work arrays are pooled across calls: a node's history, outputs and parameters must
    stay its own while its backward is pending. Two graphs built before either backward
    (the second with other parameters and retain_graph on the first) give the gradients of
    fresh, separate computations."""
    dt = tt.TORCH_DTYPE
    x = torch.tensor(np.stack([caravan(b, 60 + 90)[:, :3] for b in BASINS5[:3]], 1), dtype=dt)
    g = torch.Generator().manual_seed(11)
    us = [torch.rand(3, 13, 4, generator=g, dtype=dt).requires_grad_() for _ in range(2)]
    ud = [torch.rand(90, 3, 2, 4, generator=g, dtype=dt).requires_grad_() for _ in range(2)]
    ur = [torch.rand(3, 2, generator=g, dtype=dt).requires_grad_() for _ in range(2)]

    def grads(k, retain=False):
        q = tt.hbv(x, us[k], ud[k], ur[k], warmup=60)
        return q, torch.autograd.grad(q.sum(), (us[k], ud[k], ur[k]), retain_graph=retain)

    want = [grads(k)[1] for k in range(2)]                # each alone, graphs freed
    q0 = tt.hbv(x, us[0], ud[0], ur[0], warmup=60)        # graph 0 pending ...
    q1, got1 = grads(1)                                   # ... while 1 runs forward + backward
    got0a = torch.autograd.grad(q0.sum(), (us[0], ud[0], ur[0]), retain_graph=True)
    q1b, _ = grads(1)                                     # another call between two backwards of 0
    got0b = torch.autograd.grad(q0.sum(), (us[0], ud[0], ur[0]))
    for got, ref in ((got0a, want[0]), (got0b, want[0]), (got1, want[1])):
        for a, b in zip(got, ref):
            assert torch.equal(a, b)
