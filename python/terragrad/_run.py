"""Training runs through the library (tg_train, tg_evaluate) and reading a run folder.

    run = terragrad.train("config.yaml")            # or a dict (written to a temp YAML)
    terragrad.evaluate(run, data="other/", out="scored/")   # other basins (tg_evaluate_with)
    r = terragrad.open_run(run)                     # evaluates first if needed
    r.predictions  -> xarray.Dataset (time, basin): Q_obs, Q, fluxes, states
    r.metrics      -> pandas.DataFrame, one row per basin (metrics_<period>.csv)
    r.params       -> pandas.DataFrame of learned parameters (params_<period>.csv), if any
"""
import ctypes
import os
import tempfile

import numpy as np

from . import _lib as L


class _TrainOptions(ctypes.Structure):
    # the agreed public struct (include/terragrad/run.h); fields may be appended there
    _fields_ = [("resume", ctypes.c_int), ("overwrite", ctypes.c_int),
                ("run_dir", ctypes.c_char_p), ("command", ctypes.c_char_p),
                ("set", ctypes.POINTER(ctypes.c_char_p)), ("n_set", ctypes.c_int)]


L.lib.tg_train.argtypes = [ctypes.c_char_p, ctypes.POINTER(_TrainOptions)]
L.lib.tg_train.restype = ctypes.c_int
L.lib.tg_evaluate.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
L.lib.tg_evaluate.restype = ctypes.c_int


class _EvaluateOptions(ctypes.Structure):
    # tg_evaluate_options of include/terragrad/run.h (fields may be appended there)
    _fields_ = [("period", ctypes.c_char_p), ("start", ctypes.c_char_p), ("end", ctypes.c_char_p),
                ("data_dir", ctypes.c_char_p), ("basins_file", ctypes.c_char_p), ("out_dir", ctypes.c_char_p),
                ("predict_only", ctypes.c_int),
                ("set", ctypes.POINTER(ctypes.c_char_p)), ("n_set", ctypes.c_int)]


L.lib.tg_evaluate_with.argtypes = [ctypes.c_char_p, ctypes.POINTER(_EvaluateOptions)]
L.lib.tg_evaluate_with.restype = ctypes.c_int
L.lib.tg_apply_run.argtypes = [ctypes.c_char_p, ctypes.POINTER(_EvaluateOptions), ctypes.c_char_p,
                               ctypes.c_char_p, ctypes.c_size_t]
L.lib.tg_apply_run.restype = ctypes.c_int


def _yaml_dump(cfg, f):
    import yaml
    yaml.safe_dump(cfg, f, default_flow_style=None, sort_keys=False)


def train(config, run_dir=None, overwrite=False, resume=False):
    """Trains the model a config describes (a YAML path, or a dict with the same keys,
    docs/config.md); returns the run folder. Errors raise terragrad.TerragradError with
    the library's message (file, line and field for a bad config)."""
    tmp = None
    if isinstance(config, dict):
        fd, tmp = tempfile.mkstemp(prefix="terragrad-", suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            _yaml_dump(config, f)
        path = tmp
        if run_dir is None and not (config.get("output") or {}).get("dir"):
            raise ValueError("train: a config dict needs output: {dir: ...} or run_dir=")
    else:
        path = os.fspath(config)
    opt = _TrainOptions(int(bool(resume)), int(bool(overwrite)),
                        os.fsencode(run_dir) if run_dir is not None else None, b"terragrad.train (Python)")
    try:
        st = L.lib.tg_train(os.fsencode(path), ctypes.byref(opt))
        L.check(st, "train")
    finally:
        if tmp:
            os.unlink(tmp)
    if run_dir is not None:
        return os.fspath(run_dir)
    if isinstance(config, dict):
        return config["output"]["dir"]
    import yaml
    with open(path) as f:
        c = yaml.safe_load(f) or {}
    d = (c.get("output") or {}).get("dir")
    if d:
        return d
    base = os.path.basename(path)
    return os.path.join("runs", base.split(".")[0])


def evaluate(run_dir, period=None, *, data=None, basins=None, start=None, end=None, out=None, overrides=None):
    """Runs a trained run's model and scores it; returns the folder the outputs are in.

    evaluate(run_dir[, period]): the run's own basins over its test (or valid, train) period,
    into the run folder (as `terragrad test RUN`).

    With any keyword (as `terragrad test RUN --data ... --basins ... --start ... --end ...
    --out ...`; tg_evaluate_with): other basins, dates or an output folder, always with the
    run's own normalisation.
      data       a data folder of the run's data.source (its basins replace the run's)
      basins     a basin list file (one id per line) or a list of ids
      start, end YYYY-MM-DD, both or neither (outputs named `period`, default "apply")
      out        output folder; default, as the CLI, RUN/apply_<name of data or basins,
                 or start_end> (never the run's own test outputs)
      overrides  {key: value} or ["key=value", ...]: the run's config, checked as train --set
    Outputs: metrics_<period>.csv, predictions_<period>/, predictions_<period>.nc,
    params_<period>.csv (process models), attributes_range_<period>.csv, the log. Errors
    (a missing folder or basin, dates the forcing does not cover, no observed streamflow)
    raise TerragradError with the library's message, and a failed call leaves no new folder."""
    run_dir = os.fspath(run_dir)
    if data is None and basins is None and start is None and end is None and out is None and not overrides:
        L.check(L.lib.tg_evaluate(os.fsencode(run_dir), (period or "test").encode()), "evaluate")
        return run_dir
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    return _apply(run_dir, period, data, basins, start, end, out, overrides, 0)


def predict(run_dir, data, start, end, out, *, basins=None, overrides=None):
    """A trained run's streamflow, fluxes and states where no streamflow is observed (as
    `terragrad predict RUN --data ... --start ... --end ... --out ...`); returns `out`.
      data        a data folder of the run's data.source (a Q column absent or all missing is fine)
      start, end  YYYY-MM-DD; the warm-up before start (training.warmup days) must be in the forcing
      out         output folder: predictions_predict/<basin>.csv (Q_obs NA where not observed),
                  predictions_predict.nc, params_predict.csv (process models), eval_predict.log
      basins      a basin list file or a list of ids (default: every basin in data)
      overrides   {key: value} or ["key=value", ...] of the run's config
    Forcing missing over warm-up + period raises TerragradError naming the file, field and dates."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    return _apply(run_dir, "predict", data, basins, start, end, out, overrides, 1)


def _apply(run_dir, period, data, basins, start, end, out, overrides, predict_only):
    """tg_apply_run with these arguments (a list of basins goes through a temporary file)."""
    tmp = None
    try:
        if basins is not None and not isinstance(basins, (str, bytes, os.PathLike)):
            fd, tmp = tempfile.mkstemp(prefix="terragrad-basins-", suffix=".txt")
            with os.fdopen(fd, "w") as f:
                f.write("".join(f"{b}\n" for b in basins))
            basins_file = tmp
            if out is None and data is None:   # not the temporary file's name
                out = os.path.join(run_dir, "apply_basins")
        else:
            basins_file = os.fspath(basins) if basins is not None else None
        if isinstance(overrides, dict):
            overrides = [f"{k}={v}" for k, v in overrides.items()]
        sets = [os.fsencode(x) for x in (overrides or [])]
        arr = (ctypes.c_char_p * max(len(sets), 1))(*sets)
        enc = lambda x: os.fsencode(os.fspath(x)) if x is not None else None  # noqa: E731
        opt = _EvaluateOptions(enc(period), enc(start), enc(end), enc(data), enc(basins_file), enc(out), predict_only,
                               ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), len(sets))
        used = ctypes.create_string_buffer(4200)
        what = "predict" if predict_only else "evaluate"
        st = L.lib.tg_apply_run(os.fsencode(run_dir), ctypes.byref(opt), f"terragrad.{what} (Python)".encode(),
                                used, len(used))
        L.check(st, what)
        return os.fsdecode(used.value)
    finally:
        if tmp:
            os.unlink(tmp)


class Run:
    """What a run folder holds, read into pandas / xarray (see open_run)."""

    def __init__(self, run_dir, period, predictions, metrics, params, loss, config):
        self.dir = run_dir
        self.period = period
        self.predictions = predictions
        self.metrics = metrics
        self.params = params
        self.loss = loss
        self.config = config

    def __repr__(self):
        b = self.predictions.sizes.get("basin", 0)
        return f"<terragrad.Run {self.dir} ({self.period}): {b} basins>"


# float_precision="round_trip": pandas' default parser may be one ulp off (the CSVs hold
# 17 digits in the double build, written to round-trip exactly)
def _read_predictions(folder, basins):
    import pandas as pd
    import xarray as xr
    frames = []
    for b in basins:
        df = pd.read_csv(os.path.join(folder, f"{b}.csv"), dtype={"date": str}, float_precision="round_trip")
        df["date"] = pd.to_datetime(df["date"])
        frames.append(df.set_index("date"))
    time = frames[0].index
    for b, df in zip(basins, frames):
        if not df.index.equals(time):
            raise ValueError(f"{folder}/{b}.csv: dates differ from {folder}/{basins[0]}.csv")
    ds = xr.Dataset(coords={"time": time.values, "basin": list(basins)})
    for col in frames[0].columns:
        ds[col] = (("time", "basin"), np.stack([df[col].to_numpy(dtype=np.float64) for df in frames], 1),
                   {"units": "mm" if col in ("SWE", "MELTWATER", "SM", "SUZ", "SLZ") else "mm d-1"})
    return ds


def open_run(run_dir, period="test", evaluate_if_missing=True):
    """Reads a run folder: predictions (xarray.Dataset from predictions_<period>/<basin>.csv,
    dims time x basin), metrics and learned parameters (pandas.DataFrames indexed by basin),
    the loss curve and the config. Evaluates the run first when its outputs are missing."""
    import pandas as pd
    import yaml
    run_dir = os.fspath(run_dir)
    if not os.path.isfile(os.path.join(run_dir, "last.ckpt")) and not os.path.isfile(
            os.path.join(run_dir, f"metrics_{period}.csv")):
        raise FileNotFoundError(f"{run_dir}: not a terragrad run folder (no last.ckpt)")
    mpath = os.path.join(run_dir, f"metrics_{period}.csv")
    if not os.path.isfile(mpath):
        if not evaluate_if_missing:
            raise FileNotFoundError(f"{mpath}: missing (run terragrad.evaluate first)")
        evaluate(run_dir, period)
    metrics = pd.read_csv(mpath, dtype={"basin": str}, float_precision="round_trip").set_index("basin")
    ppath = os.path.join(run_dir, f"params_{period}.csv")
    params = (pd.read_csv(ppath, dtype={"basin": str}, float_precision="round_trip").set_index("basin")
              if os.path.isfile(ppath) else None)
    preds = _read_predictions(os.path.join(run_dir, f"predictions_{period}"), list(metrics.index))
    lpath = os.path.join(run_dir, "loss.csv")
    loss = pd.read_csv(lpath, float_precision="round_trip") if os.path.isfile(lpath) else None
    cpath = os.path.join(run_dir, "config.yaml")
    config = None
    if os.path.isfile(cpath):
        with open(cpath) as f:
            config = yaml.safe_load(f)
    return Run(run_dir, period, preds, metrics, params, loss, config)
