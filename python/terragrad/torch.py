"""PyTorch HBV over terragrad's fused forward/backward (one autograd node per run).

    from terragrad.torch import HBV
    hbv = HBV(nmul=16, warmup=365, dynamic=("BETA", "BETAET"), routing=True)
    q = hbv(x_phy, u_static, u_dyn, u_route)          # (T - warmup, B) routed streamflow

Inputs (the dHBV 1.0 / hydrodl2 conventions, parameters normalised to [0, 1] and mapped to
the dHBV 1.0 ranges, terragrad.hbv.PARAM_RANGE):
  x_phy    (T, B, 3)            P mm/d, temperature degC, PET mm/d
  u_static (B, 13, nmul)        every parameter; a dynamic one's value here is used in the
                                warm-up (as hbv_torch.dhbv_forward and dMG do)
  u_dyn    (T - warmup, B, ndyn, nmul)  the dynamic parameters after the warm-up, in the
                                order of PARAM_NAMES (BETA before BETAET); None if none
  u_route  (B, 2)               gamma unit hydrograph (a, theta) in [0, 1]; None if no routing
The warm-up only sets the stores (no gradient through it unless warmup_grad=True).
Tensors must be on the CPU with the library's real type: float32 with the float build,
float64 with the double build ($TERRAGRAD_LIB).
"""
import ctypes
import threading

import numpy as np
import torch as _torch

from . import _lib as L
from ._lib import check, ptr
from .hbv import PARAM_NAMES, _mask, _dyn_indices

TORCH_DTYPE = _torch.float32 if L.real_name == "float" else _torch.float64

# Work arrays are reused across calls: a fresh array of several MB costs more in page faults
# than the HBV step that fills it. An array saved for backward (history, outputs,
# parameters) goes back to the pool only when its _Lease dies, i.e. when autograd frees the
# node (after backward without retain_graph, or when the graph is dropped): no later call
# can overwrite what a pending backward still reads. Arrays handed to torch as results are
# never pooled.
_POOL, _POOL_LOCK, _POOL_MAX = {}, threading.Lock(), 4


def _take(shape, zero=False):
    key = (tuple(shape), L.dtype.str)
    with _POOL_LOCK:
        free = _POOL.get(key)
        a = free.pop() if free else None
    if a is None:
        a = np.empty(shape, dtype=L.dtype)
    if zero:
        a.fill(0)
    return a


def _give(*arrays):
    with _POOL_LOCK:
        for a in arrays:
            if a is not None:
                free = _POOL.setdefault((a.shape, a.dtype.str), [])
                if len(free) < _POOL_MAX:
                    free.append(a)


class _Lease:
    """Holds pooled arrays for as long as an autograd node lives; returns them after."""
    __slots__ = ("arrays",)

    def __init__(self, *arrays):
        self.arrays = arrays

    def __del__(self):
        try:
            _give(*self.arrays)
        except Exception:  # interpreter shutdown: the pool may already be gone
            pass


def _np(t, name):
    """CPU tensor -> contiguous numpy array sharing its memory when it can."""
    if not isinstance(t, _torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{name}: tensor on {t.device}; terragrad runs on the CPU only — "
                         f"move it with .cpu() (and the result back with .to('{t.device}'))")
    if t.dtype != TORCH_DTYPE:
        other = "libterragrad-double" if TORCH_DTYPE == _torch.float32 else "libterragrad (float)"
        raise TypeError(f"{name}: dtype {t.dtype}, but the loaded library ({L.path}) is the "
                        f"{L.real_name} build and computes in {TORCH_DTYPE}; convert the tensor, or "
                        f"point TERRAGRAD_LIB at {other}")
    return np.ascontiguousarray(t.detach().numpy())


class HBVFunction(_torch.autograd.Function):
    """q = HBV(x, u_static, u_dyn) then gamma-UH routing with u_route; see the module doc."""

    @staticmethod
    def forward(ctx, x, u_static, u_dyn, u_route, warmup, dynamic_mask, warmup_grad):
        f = _np(x, "x_phy")
        us = _np(u_static, "u_static")
        T, B = f.shape[0], f.shape[1]
        if f.ndim != 3 or f.shape[2] != 3:
            raise ValueError(f"x_phy: shape {tuple(f.shape)}, expected (T, B, 3)")
        if us.ndim != 3 or us.shape[:2] != (B, L.NPARAM):
            raise ValueError(f"u_static: shape {tuple(us.shape)}, expected ({B}, {L.NPARAM}, nmul)")
        M = us.shape[2]
        W = int(warmup)
        if not 0 <= W < T:
            raise ValueError(f"warmup {W} must be in [0, T) with T = {T}")
        n, Lanes = T - W, B * M
        idx = _dyn_indices(dynamic_mask)
        nd = len(idx)
        # (B, 13, M) in [0, 1] -> physical (13, B*M), read in place (no transposed copy)
        ps = _take((L.NPARAM, Lanes))
        L.lib.tg_hbv_scale_forward_bpm(ptr(ps), ptr(us), 1, (1 << L.NPARAM) - 1, B, M)
        pd = None
        if nd:
            ud = _np(u_dyn, "u_dyn")
            if ud.shape != (n, B, nd, M):
                raise ValueError(f"u_dyn: shape {tuple(ud.shape)}, expected ({n}, {B}, {nd}, {M}) "
                                 f"(T - warmup, B, {'/'.join(PARAM_NAMES[k] for k in idx)}, nmul)")
            pd = _take((n, nd, Lanes))
            L.lib.tg_hbv_scale_forward_bpm(ptr(pd), ptr(ud), n, dynamic_mask, B, M)
        c = L.HbvConfig()
        L.lib.tg_hbv_config_init(ctypes.byref(c), T, W, B, M)
        c.dynamic = dynamic_mask
        c.warmup_grad = int(bool(warmup_grad))
        c.basin_outputs = 1 << 0          # only Q: the other rows are not needed here
        check(L.lib.tg_hbv_config_check(ctypes.byref(c)), "HBV")
        hist = _take((L.lib.tg_hbv_hist_size(ctypes.byref(c)),))
        # only the Q row is computed (basin_outputs) and read (routing, backward): no zeroing
        out = _take((n, L.NOUT, B))
        check(L.lib.tg_hbv_forward(ptr(out), None, None, ptr(hist), ptr(f), ptr(ps), ptr(pd), None,
                                   ctypes.byref(c)), "HBV")
        routed = u_route is not None
        if routed:
            ur = _np(u_route, "u_route")
            if ur.shape != (B, 2):
                raise ValueError(f"u_route: shape {tuple(ur.shape)}, expected ({B}, 2)")
            a = np.empty(B, L.dtype)
            th = np.empty(B, L.dtype)
            L.lib.tg_routing_scale_forward(ptr(a), ptr(th), ptr(ur), B)
            w = np.empty((B, L.UH_LEN), L.dtype)
            L.lib.tg_uh_gamma_forward(ptr(w), ptr(a), ptr(th), B)
            y = np.zeros((n, B), L.dtype)
            # the Q row of the (n, NOUT, B) output routes in place: row stride NOUT*B
            L.lib.tg_uh_conv_forward(ptr(y), B, ptr(out), L.NOUT * B, ptr(w), n, B)
            ctx.route = (a, th, w)
        else:
            y = np.ascontiguousarray(out[:, 0, :])
            ctx.route = None
        ctx.saved = (c, hist, f, ps, pd, out, B, M, n, nd, dynamic_mask)
        ctx.lease = _Lease(hist, ps, pd, out)
        return _torch.from_numpy(y)

    @staticmethod
    def backward(ctx, gy):
        c, hist, f, ps, pd, out, B, M, n, nd, mask = ctx.saved
        Lanes = B * M
        gy = np.ascontiguousarray(gy.detach().cpu().numpy(), dtype=L.dtype)
        # the backward reads only the Q row's seed (basin_outputs): zero just that row
        g_out = _take((n, L.NOUT, B))
        g_out[:, 0, :] = 0
        g_route = None
        if ctx.route is not None:
            a, th, w = ctx.route
            g_w = np.zeros((B, L.UH_LEN), L.dtype)
            L.lib.tg_uh_conv_backward(ptr(g_out), L.NOUT * B, ptr(g_w), ptr(gy), B, ptr(out), L.NOUT * B,
                                      ptr(w), n, B)
            if ctx.needs_input_grad[3]:
                g_a = np.zeros(B, L.dtype)
                g_th = np.zeros(B, L.dtype)
                L.lib.tg_uh_gamma_backward(ptr(g_a), ptr(g_th), ptr(g_w), ptr(w), ptr(a), ptr(th), B)
                gu = np.zeros((B, 2), L.dtype)
                L.lib.tg_routing_scale_backward(ptr(gu), ptr(g_a), ptr(g_th), B)
                g_route = _torch.from_numpy(gu)
        else:
            g_out[:, 0, :] = gy
        need_x, need_s, need_d = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        g_x = g_us = g_ud = None
        if need_x or need_s or need_d:
            g_ps = _take((L.NPARAM, Lanes), zero=True)
            g_pd = _take((n, nd, Lanes), zero=True) if nd else None
            g_f = np.zeros(f.shape, L.dtype) if need_x else None
            check(L.lib.tg_hbv_backward(ptr(g_ps), ptr(g_pd), ptr(g_f), None, ptr(g_out), None, None,
                                        ptr(hist), ptr(f), ptr(ps), ptr(pd), ctypes.byref(c)), "HBV backward")
            # gradients handed to torch are fresh arrays (torch may keep them as .grad)
            # d u = d phys * span, written straight into torch's layout (fresh arrays: torch
            # may keep them as .grad)
            if need_s:
                g_us = np.empty((B, L.NPARAM, M), L.dtype)
                L.lib.tg_hbv_scale_backward_bpm(ptr(g_us), ptr(g_ps), 1, (1 << L.NPARAM) - 1, B, M)
                g_us = _torch.from_numpy(g_us)
            if need_d and nd:
                g_ud = np.empty((n, B, nd, M), L.dtype)
                L.lib.tg_hbv_scale_backward_bpm(ptr(g_ud), ptr(g_pd), n, mask, B, M)
                g_ud = _torch.from_numpy(g_ud)
            if need_x:
                g_x = _torch.from_numpy(g_f)
            _give(g_ps, g_pd)
        _give(g_out)
        return g_x, g_us, g_ud, g_route, None, None, None


def hbv(x_phy, u_static, u_dyn=None, u_route=None, warmup=365, dynamic=("BETA", "BETAET"),
        warmup_grad=False):
    """Functional form: routed (or, without u_route, unrouted) Q, shape (T - warmup, B)."""
    dynamic = tuple(dynamic) if u_dyn is not None else ()
    mask = _mask(dynamic)
    if [PARAM_NAMES[k] for k in _dyn_indices(mask)] != list(dynamic):
        raise ValueError(f"dynamic: give the names in the order of PARAM_NAMES, got {dynamic}")
    return HBVFunction.apply(x_phy, u_static, u_dyn, u_route, int(warmup), mask, bool(warmup_grad))


class HBV(_torch.nn.Module):
    """dHBV 1.0 as a torch module over terragrad (see the module doc).

    forward(x_phy, u_static, u_dyn=None, u_route=None) -> Q (T - warmup, B), or, called the
    dMG way, forward((x_dict, parameters)) with x_dict['x_phy'] (T, B, 3) and parameters
    (T, B, 13 nmul + 2) in [0, 1] (13 x nmul physical, then 2 routing): returns
    {'streamflow': (T - warmup, B, 1)}. There the static values are the last time step's
    and the dynamic ones the rows after the warm-up.
    """

    def __init__(self, nmul=16, warmup=365, dynamic=("BETA", "BETAET"), routing=True, warmup_grad=False):
        super().__init__()
        self.nmul = int(nmul)
        self.warmup = int(warmup)
        self.dynamic = tuple(dynamic)
        self.routing = bool(routing)
        self.warmup_grad = bool(warmup_grad)
        self.dynamic_index = [PARAM_NAMES.index(k) for k in self.dynamic]

    def forward(self, x_phy, u_static=None, u_dyn=None, u_route=None):
        if isinstance(x_phy, (tuple, list)):          # dMG: model((x_dict, parameters))
            x_dict, parameters = x_phy
            x = x_dict["x_phy"] if isinstance(x_dict, dict) else x_dict
            T, B = parameters.shape[:2]
            k = L.NPARAM * self.nmul
            if parameters.shape[2] != k + (2 if self.routing else 0):
                raise ValueError(f"parameters: {parameters.shape[2]} columns, expected {L.NPARAM} x nmul "
                                 f"({k}){' + 2 routing' if self.routing else ''}")
            phy = parameters[:, :, :k].reshape(T, B, L.NPARAM, self.nmul)
            u_static = phy[-1]
            u_dyn = phy[self.warmup:, :, self.dynamic_index] if self.dynamic else None
            u_route = parameters[-1, :, k:] if self.routing else None
            q = hbv(x, u_static, u_dyn, u_route, self.warmup, self.dynamic, self.warmup_grad)
            return {"streamflow": q.unsqueeze(-1)}
        if u_static is None:
            raise TypeError("HBV.forward needs u_static (B, 13, nmul)")
        if u_static.shape[-1] != self.nmul:
            raise ValueError(f"u_static: {u_static.shape[-1]} components, the module has nmul = {self.nmul}")
        if self.routing and u_route is None:
            raise ValueError("u_route (B, 2) is needed: the module was made with routing=True")
        return hbv(x_phy, u_static, u_dyn if self.dynamic else None, u_route if self.routing else None,
                   self.warmup, self.dynamic, self.warmup_grad)

    def extra_repr(self):
        return (f"nmul={self.nmul}, warmup={self.warmup}, dynamic={self.dynamic}, routing={self.routing}, "
                f"library={L.real_name}")
