"""Skill metrics of simulated against observed streamflow (tg_metrics_compute)."""
import ctypes

import numpy as np

from . import _lib as L

_NM = 18   # TG_METRIC_COUNT (terragrad/eval.h)
METRIC_NAMES = tuple(s.decode() for s in (ctypes.c_char_p * _NM).in_dll(L.lib, "tg_metric_names"))


class _Metrics(ctypes.Structure):
    _fields_ = [(n, ctypes.c_double) for n in ("nse", "kge", "kge_prime", "r", "alpha", "beta", "gamma",
                                               "rmse", "bias", "pbias", "fhv", "flv_pbias", "flv_log",
                                               "rmse_low", "rmse_high", "peak_timing")] + \
               [("n", ctypes.c_int), ("n_sim_missing", ctypes.c_int), ("n_peaks", ctypes.c_int),
                ("beta_nse", ctypes.c_double), ("fms", ctypes.c_double)]   # tg_metrics, in its order


L.lib.tg_metrics_compute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_Metrics)]
L.lib.tg_metrics_compute.restype = ctypes.c_int
L.lib.tg_metric_get.argtypes = [ctypes.POINTER(_Metrics), ctypes.c_int]
L.lib.tg_metric_get.restype = ctypes.c_double


def _one(sim, obs):
    s = np.ascontiguousarray(sim, dtype=np.float64)
    o = np.ascontiguousarray(obs, dtype=np.float64)
    m = _Metrics()
    st = L.lib.tg_metrics_compute(L.ptr(o), L.ptr(s), len(o), ctypes.byref(m))
    if st and st != 1:              # TG_EINVAL leaves the undefined metrics NaN (documented)
        L.check(st, "metrics")
    d = {name: L.lib.tg_metric_get(ctypes.byref(m), k) for k, name in enumerate(METRIC_NAMES)}
    d.update(n=m.n, n_sim_missing=m.n_sim_missing, n_peaks=m.n_peaks)
    return d


def metrics(sim, obs):
    """Skill of sim against obs (NaN = missing, skipped pairwise), the library's formulas
    (docs/metrics.md). 1-D inputs (days): a dict metric -> value (plus n, n_sim_missing,
    n_peaks). 2-D (time, basin) inputs or xarray.DataArrays with a 'basin' dimension: a
    pandas.DataFrame with one row per basin."""
    dims = getattr(sim, "dims", None)
    if dims is not None and "basin" in dims:
        import pandas as pd
        sim = sim.transpose("time", "basin")
        obs = obs.transpose("time", "basin") if hasattr(obs, "dims") else obs
        rows = [_one(np.asarray(sim)[:, b], np.asarray(obs)[:, b]) for b in range(sim.sizes["basin"])]
        return pd.DataFrame(rows, index=pd.Index(np.asarray(sim["basin"]), name="basin"))
    s, o = np.asarray(sim, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    if s.shape != o.shape:
        raise ValueError(f"metrics: sim has shape {s.shape}, obs {o.shape}")
    if s.ndim == 1:
        return _one(s, o)
    if s.ndim == 2:
        import pandas as pd
        return pd.DataFrame([_one(s[:, b], o[:, b]) for b in range(s.shape[1])],
                            index=pd.Index(np.arange(s.shape[1]), name="basin"))
    raise ValueError(f"metrics: shape {s.shape}, expected (time,) or (time, basin)")
