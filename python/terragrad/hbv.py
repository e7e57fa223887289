"""HBV with known parameters on numpy arrays (dMG layout), and local sensitivities.

    ds = terragrad.hbv.simulate(forcing, params, routing=None, warmup=365)
    ds2 = terragrad.hbv.simulate(forcing_next, params, states=ds, warmup=0)   # continue

forcing (T, B, 3): P mm/d, air temperature degC, PET mm/d, time-major (as dMG's x_phy).
params  (B, 13, M) static, or (T, B, 13, M) varying in time; physical units by default,
        in [0, 1] with normalized=True (mapped to tg_hbv_param_range, the dHBV 1.0 ranges).
routing (B, 2) gamma unit hydrograph (a, theta) in physical units (or [0, 1] with
        normalized=True), None = no routing.
"""
import ctypes

import numpy as np

from . import _lib as L
from ._lib import check, ptr

PARAM_NAMES = tuple(L.param_names)
PARAM_RANGE = L.param_range.copy()
STATE_NAMES = ("SNOWPACK", "MELTWATER", "SM", "SUZ", "SLZ")
OUTPUT_NAMES = tuple(L.output_names)

# units of every output variable (CF-style strings)
UNITS = {"Q": "mm d-1", "Q_unrouted": "mm d-1", "Q0": "mm d-1", "Q1": "mm d-1", "Q2": "mm d-1",
         "ET": "mm d-1", "PET": "mm d-1", "rain": "mm d-1", "snow": "mm d-1", "melt": "mm d-1",
         "SWE": "mm", "MELTWATER": "mm", "SM": "mm", "SUZ": "mm", "SLZ": "mm",
         "recharge": "mm d-1", "excess": "mm d-1", "perc": "mm d-1", "final_state": "mm"}
LONG_NAMES = {
    "Q": "streamflow (routed when routing is given)", "Q_unrouted": "runoff Q0+Q1+Q2 before routing",
    "Q0": "fast upper-zone runoff", "Q1": "upper-zone runoff", "Q2": "lower-zone runoff (baseflow)",
    "ET": "actual evapotranspiration", "PET": "potential evapotranspiration (input)",
    "rain": "rainfall", "snow": "snowfall", "melt": "snowmelt",
    "SWE": "snow water equivalent (frozen part, end of day)", "MELTWATER": "liquid water in the snow pack",
    "SM": "soil moisture", "SUZ": "upper zone storage", "SLZ": "lower zone storage",
    "recharge": "recharge to the upper zone", "excess": "soil excess water above FC",
    "perc": "percolation upper -> lower zone",
    "final_state": "stores at the end of the last day (pass as states= to continue)"}
_ROUTED = ("Q", "Q0", "Q1", "Q2")


def _mask(names):
    m = 0
    for n in names:
        if n not in PARAM_NAMES:
            raise ValueError(f"unknown HBV parameter {n!r} (known: {', '.join(PARAM_NAMES)})")
        m |= 1 << PARAM_NAMES.index(n)
    return m


def _dyn_indices(mask):
    return [p for p in range(L.NPARAM) if mask >> p & 1]


def scale(u, names=PARAM_NAMES):
    """Parameters in [0, 1] -> physical units, lo + u (hi - lo), with the library's own
    mapping (tg_hbv_scale_forward); u has shape (..., len(names), M), names in the order of
    PARAM_NAMES (all 13 by default)."""
    mask = _mask(names)
    if [PARAM_NAMES[k] for k in _dyn_indices(mask)] != list(names):
        raise ValueError(f"scale: names must be in the order of PARAM_NAMES, got {names}")
    u = L.as_real(u, "u")
    if u.ndim < 2 or u.shape[-2] != len(names):
        raise ValueError(f"scale: shape {u.shape}, expected (..., {len(names)}, M)")
    out = np.empty_like(u)
    R = int(np.prod(u.shape[:-2]))
    L.lib.tg_hbv_scale_forward(ptr(out), ptr(u), R, mask, u.shape[-1])
    return out


def _states_array(states, B, M):
    if states is None:
        return None
    if hasattr(states, "data_vars"):          # a Dataset returned by simulate
        states = states["final_state"].values
    s = L.as_real(states, "states")
    if s.shape != (L.NSTATE, B, M):
        raise ValueError(f"states: shape {s.shape}, expected ({L.NSTATE}, {B}, {M}) "
                         f"(state, basin, component: {', '.join(STATE_NAMES)})")
    return s


def _run(forcing, ps, pd, mask, state_init, T, W, B, M, want_lane=False):
    """One tg_hbv_forward call; ps (13, L), pd (T-W, ndyn, L) or None."""
    c = L.HbvConfig()
    L.lib.tg_hbv_config_init(ctypes.byref(c), T, W, B, M)
    c.dynamic = mask
    check(L.lib.tg_hbv_config_check(ctypes.byref(c)), "hbv")
    out = np.zeros((T - W, L.NOUT, B), dtype=L.dtype)
    lane = np.zeros((T - W, L.NOUT, B * M), dtype=L.dtype) if want_lane else None
    final = np.zeros((L.NSTATE, B * M), dtype=L.dtype)
    check(L.lib.tg_hbv_forward(ptr(out), ptr(lane), ptr(final), None, ptr(forcing), ptr(ps),
                               ptr(pd), ptr(state_init), ctypes.byref(c)), "hbv")
    return out, lane, final


def _check_forcing(forcing):
    f = L.as_real(forcing, "forcing")
    if f.ndim != 3 or f.shape[2] != 3:
        raise ValueError(f"forcing: shape {f.shape}, expected (T, B, 3) with columns P, T, PET")
    if not np.all(np.isfinite(f)):
        t, b, k = np.argwhere(~np.isfinite(f))[0]
        raise ValueError(f"forcing: {('P', 'T', 'PET')[k]} of basin {b} on step {t} is not finite "
                         "(HBV needs every day)")
    return f


def _routing_phys(routing, B, normalized):
    r = L.as_real(routing, "routing")
    if r.shape != (B, 2):
        raise ValueError(f"routing: shape {r.shape}, expected ({B}, 2) (a, theta)")
    if normalized:
        a = np.zeros(B, L.dtype)
        th = np.zeros(B, L.dtype)
        L.lib.tg_routing_scale_forward(ptr(a), ptr(th), ptr(r), B)
        return a, th
    return np.ascontiguousarray(r[:, 0]), np.ascontiguousarray(r[:, 1])


def simulate(forcing, params, routing=None, warmup=None, states=None, normalized=False,
             time=None, basins=None, components=False):
    """Runs HBV and returns an xarray.Dataset over the days after the warm-up.

    warmup: days that only initialise the stores (default 365, or 0 when states are given).
    states: (5, B, M) stores to start from (SNOWPACK, MELTWATER, SM, SUZ, SLZ), or the
            Dataset of a previous call (its final_state); None = 0.001 mm everywhere.
    time:   T labels of the forcing rows (e.g. dates); basins: B basin names.
    components: also return per-component outputs (variables <name>_component).
    Every output is the mean over the M components; Q, Q0, Q1, Q2 are routed when routing
    is given (zero runoff assumed before the first output day), Q_unrouted is not.
    With (T, B, 13, M) parameters, the warm-up days use their own rows too.
    """
    import xarray as xr

    f = _check_forcing(forcing)
    T, B = f.shape[:2]
    p = np.asarray(params)
    if p.ndim == 3:
        dyn = False
    elif p.ndim == 4:
        dyn = True
        if p.shape[0] != T:
            raise ValueError(f"params: {p.shape[0]} time steps, forcing has {T}")
    else:
        raise ValueError(f"params: shape {p.shape}, expected (B, 13, M) or (T, B, 13, M)")
    if p.shape[-3:-1] != (B, L.NPARAM):
        raise ValueError(f"params: shape {p.shape}: expected {B} basins x {L.NPARAM} parameters "
                         f"({', '.join(PARAM_NAMES)}) in the last-but-one axes")
    M = p.shape[-1]
    if warmup is None:
        warmup = 365 if states is None else 0
    W = int(warmup)
    if not 0 <= W < T:
        raise ValueError(f"warmup: {W} days needs more than {W} forcing rows (have {T})")
    s0 = _states_array(states, B, M)
    phys = scale(p) if normalized else L.as_real(p, "params")
    if not np.all(np.isfinite(phys)):
        raise ValueError("params: not every value is finite")
    if not dyn:
        ps = np.ascontiguousarray(phys.transpose(1, 0, 2)).reshape(L.NPARAM, B * M)
        out, lane, final = _run(f, ps, None, 0, s0, T, W, B, M, components)
    else:
        # parameters that vary anywhere are dynamic; two calls (warm-up, window) so that the
        # warm-up days use their own rows as well (the library's warm-up uses static values)
        varies = np.any(phys != phys[:1], axis=(0, 1, 3))
        mask = sum(1 << k for k in range(L.NPARAM) if varies[k])
        idx = _dyn_indices(mask)
        pt = phys.transpose(0, 2, 1, 3).reshape(T, L.NPARAM, B * M)   # (T, 13, L)
        state = s0
        parts = []
        for t0, t1 in ((0, W), (W, T)):
            if t1 == t0:
                continue
            ps = np.ascontiguousarray(pt[t0])
            pd = np.ascontiguousarray(pt[t0:t1, idx]) if idx else None
            o, ln, state = _run(np.ascontiguousarray(f[t0:t1]), ps, pd, mask, state, t1 - t0, 0, B, M,
                                components)
            parts.append((t0, o, ln))
        _, out, lane = parts[-1]
        final = state
    n = T - W
    data = {}
    for k, name in enumerate(OUTPUT_NAMES):
        key = "Q_unrouted" if name == "Q" else name
        data[key] = out[:, k, :]
    data["PET"] = f[W:, :, 2].copy()
    if routing is not None:
        a, th = _routing_phys(routing, B, normalized)
        w = np.zeros((B, L.UH_LEN), L.dtype)
        L.lib.tg_uh_gamma_forward(ptr(w), ptr(a), ptr(th), B)
        for name in _ROUTED:
            src = np.ascontiguousarray(data["Q_unrouted" if name == "Q" else name])
            y = np.zeros((n, B), L.dtype)
            L.lib.tg_uh_conv_forward(ptr(y), B, ptr(src), B, ptr(w), n, B)
            data[name] = y
    else:
        data["Q"] = data["Q_unrouted"].copy()
    order = ["Q", "Q_unrouted", "Q0", "Q1", "Q2", "ET", "PET", "rain", "snow", "melt", "SWE", "MELTWATER",
             "SM", "SUZ", "SLZ", "recharge", "excess", "perc"]
    tcoord = np.arange(W, T) if time is None else np.asarray(time)[W:]
    bcoord = np.arange(B) if basins is None else np.asarray(basins)
    ds = xr.Dataset(coords={"time": tcoord, "basin": bcoord, "component": np.arange(M),
                            "state": list(STATE_NAMES)})
    for name in order:
        ds[name] = (("time", "basin"), data[name], {"units": UNITS[name], "long_name": LONG_NAMES[name]})
    if components:
        lane = lane.reshape(n, L.NOUT, B, M)
        for k, name in enumerate(OUTPUT_NAMES):
            key = ("Q_unrouted" if name == "Q" else name) + "_component"
            ds[key] = (("time", "basin", "component"), lane[:, k], {"units": UNITS[key[:-10]]})
    ds["final_state"] = (("state", "basin", "component"), final.reshape(L.NSTATE, B, M),
                         {"units": "mm", "long_name": LONG_NAMES["final_state"]})
    ds.attrs.update({"model": "HBV (dHBV 1.0 equations)", "warmup": W, "routed": int(routing is not None),
                     "terragrad_version": L.library_version, "real": L.real_name})
    return ds


_SENS_KIND = {"mse": 0, "rmse": 1, "nse": 2}
L.lib.tg_hbv_sensitivity.restype = ctypes.c_int
L.lib.tg_hbv_sensitivity.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                     ctypes.c_void_p, ctypes.c_int, ctypes.c_int]


def sensitivity(forcing, obs, params, routing=None, warmup=365, loss="rmse", warmup_grad=False,
                basins=None):
    """Local sensitivities d loss / d parameter from HBV's hand-written backward pass
    (tg_hbv_sensitivity, as `terragrad sensitivity`): the loss of simulated against observed
    Q (obs (T, B), NaN = missing) pooled over basins and the days after the warm-up —
    mse = SSE/N, rmse = sqrt(mse), nse = SSE / sum((obs - mean obs)^2) = 1 - pooled NSE.
    params (B, 13, M) and routing (B, 2) (a, theta) in physical units.
    Returns an xarray.Dataset: loss (scalar), dloss_dparam (basin, param, component),
    dloss_droute (basin, route: a, theta; NaN without routing)."""
    import xarray as xr

    f = _check_forcing(forcing)
    T, B = f.shape[:2]
    o = L.as_real(obs, "obs")
    if o.shape != (T, B):
        raise ValueError(f"obs: shape {o.shape}, expected ({T}, {B})")
    p = np.ascontiguousarray(params, dtype=np.float64)
    if p.ndim != 3 or p.shape[:2] != (B, L.NPARAM):
        raise ValueError(f"params: shape {p.shape}, expected ({B}, {L.NPARAM}, M)")
    M = p.shape[2]
    if loss not in _SENS_KIND:
        raise ValueError(f"loss: {loss!r}, expected one of {', '.join(_SENS_KIND)}")
    if not 0 <= int(warmup) < T:
        raise ValueError(f"warmup: {warmup} days needs more than {warmup} forcing rows (have {T})")
    fb = [np.ascontiguousarray(f[:, b, :]) for b in range(B)]
    ob = [np.ascontiguousarray(o[:, b]) for b in range(B)]
    fptr = (ctypes.c_void_p * B)(*[x.ctypes.data for x in fb])
    optr = (ctypes.c_void_p * B)(*[x.ctypes.data for x in ob])
    Ts = np.full(B, T, dtype=np.intc)
    a = th = None
    if routing is not None:
        r = np.ascontiguousarray(routing, dtype=np.float64)
        if r.shape != (B, 2):
            raise ValueError(f"routing: shape {r.shape}, expected ({B}, 2) (a, theta)")
        a, th = np.ascontiguousarray(r[:, 0]), np.ascontiguousarray(r[:, 1])
    gp = np.zeros((B, L.NPARAM, M))
    gr = np.zeros((B, 2))
    val = ctypes.c_double(0)
    check(L.lib.tg_hbv_sensitivity(ctypes.byref(val), ptr(gp), ptr(gr), B, fptr, optr, ptr(Ts), int(warmup),
                                   ptr(p), M, ptr(a), ptr(th), _SENS_KIND[loss], int(bool(warmup_grad))),
          "sensitivity")
    if routing is None:
        gr[:] = np.nan
    bcoord = np.arange(B) if basins is None else np.asarray(basins)
    return xr.Dataset(
        {"loss": ((), val.value, {"long_name": f"{loss} pooled over basins"}),
         "dloss_dparam": (("basin", "param", "component"), gp, {"long_name": "d loss / d parameter (physical units)"}),
         "dloss_droute": (("basin", "route"), gr, {"long_name": "d loss / d routing (a, theta)"})},
        coords={"basin": bcoord, "param": list(PARAM_NAMES), "component": np.arange(M), "route": ["a", "theta"]})
