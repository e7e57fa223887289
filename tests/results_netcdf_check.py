"""Checks a run's predictions_<period>.nc against the CSV files `terragrad test` wrote
beside it (tests/cli_results_netcdf.sh): every value equal to the CSV's printed digits,
basin_id read as str, units and long_name on every variable, provenance attributes.
Usage: results_netcdf_check.py RUN_DIR PERIOD MODEL_TYPE [DYNAMIC_PARAMS,...]. Exit status 1 on any failure."""
import csv
import datetime as dt
import math
import os
import re
import sys

import numpy as np
import xarray as xr

run, period, kind = sys.argv[1:4]
fails = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def same(text, value, fmt):
    """The CSV's text and the file's value print the same (NaN: NA or nan)."""
    if isinstance(value, float) and math.isnan(value):
        return text.lower() in ("na", "nan", "-nan")
    return text == fmt % value


ds = xr.open_dataset(os.path.join(run, f"predictions_{period}.nc"))
# the writer stores tg_real series; the CSV prints them with TG_REAL_FMT_CSV
real_fmt = "%.9g" if ds["Q"].dtype == np.float32 else "%.17g"
ids = [str(x) for x in ds["basin_id"].values]
check(all(type(x) is str for x in ds["basin_id"].values), f"basin_id values are str ({ds['basin_id'].dtype})")
check("basin_id" in ds.coords, "basin_id is a coordinate")

# every variable (data and auxiliary) says what it is; time and the series also in what unit
for name, var in list(ds.data_vars.items()) + list(ds.coords.items()):
    check("long_name" in var.attrs and var.attrs["long_name"] != "", f"{name} has a long_name")
    if var.dtype.kind == "f" and name not in ("params", "metrics", "params_dynamic"):
        check(var.attrs.get("units", "") not in ("", "unknown"), f"{name} has units ({var.attrs.get('units')})")
check(ds["time"].encoding.get("units", "").startswith("days since ") and
      ds["time"].encoding.get("calendar") == "standard", f"time units/calendar {ds['time'].encoding}")
stores = {"SWE", "MELTWATER", "SM", "SUZ", "SLZ"}
for name, var in ds.data_vars.items():
    if var.dims == ("basin", "time"):
        want = "mm" if name in stores else "mm/day"
        check(var.attrs.get("units") == want, f"{name} units {var.attrs.get('units')} (want {want})")

# daily series against predictions_<period>/<basin>.csv, column by column by name
series = [n for n, v in ds.data_vars.items() if v.dims == ("basin", "time")]
for b, bid in enumerate(ids):
    head, rows = read_csv(os.path.join(run, f"predictions_{period}", f"{bid}.csv"))
    check(sorted(head[1:]) == sorted(series), f"{bid}: NetCDF series {series} = CSV columns {head[1:]}")
    dates = [dt.date.fromisoformat(r[0]) for r in rows]
    nc_dates = [dt.date.fromisoformat(str(t)[:10]) for t in ds["time"].values]
    check(dates == nc_dates, f"{bid}: {len(dates)} dates equal")
    for j, col in enumerate(head[1:], start=1):
        if col not in ds:
            continue
        vals = ds[col].isel(basin=b).values.astype(np.float64)
        bad = [i for i, r in enumerate(rows) if not same(r[j], float(vals[i]), real_fmt)]
        check(not bad, f"{bid} {col}: {len(rows)} values equal to the CSV's digits"
              + (f" (first difference day {bad[0]}: csv {rows[bad[0]][j]} nc {real_fmt % vals[bad[0]]})" if bad else ""))

# metrics (basin x metric) against metrics_<period>.csv
head, rows = read_csv(os.path.join(run, f"metrics_{period}.csv"))
metrics = [str(m) for m in ds["metric"].values]
check(metrics == head[1:], f"metric names {metrics} = CSV header")
check(all(u not in ("", "unknown") for u in ds["metric_units"].values.astype(str)), "every metric has units")
check([r[0] for r in rows] == ids, "metric rows in basin order")
for b, r in enumerate(rows):
    for j, m in enumerate(head[1:], start=1):
        fmt = "%d" if m == "n_days" else (real_fmt if m == "water_balance_rel" else "%.17g")
        v = float(ds["metrics"].values[b, j - 1])
        if not same(r[j], int(v) if m == "n_days" else v, fmt):
            check(False, f"{r[0]} {m}: csv {r[j]} nc {v!r}")
check(True, f"{len(rows)} x {len(head) - 1} metrics compared")

# learned parameters (basin x parameter) against params_<period>.csv
ppath = os.path.join(run, f"params_{period}.csv")
check(os.path.exists(ppath) == ("params" in ds), "params in the NetCDF file iff params CSV")
if os.path.exists(ppath):
    head, rows = read_csv(ppath)
    check([str(p) for p in ds["parameter"].values] == head[1:], f"parameter names = CSV header {head[1:]}")
    check(all(u not in ("", "unknown") for u in ds["parameter_units"].values.astype(str)), "every parameter has units")
    nbad = sum(not same(r[j], float(ds["params"].values[b, j - 1]), real_fmt)
               for b, r in enumerate(rows) for j in range(1, len(head)))
    check(nbad == 0 and len(rows) == len(ids), f"{len(rows)} x {len(head) - 1} parameters equal ({nbad} differ)")

# daily parameters (hbv.dynamic): (basin, time, dynamic_parameter). The learned static
# value of a dynamic parameter (params) is the network's output on the window's last day,
# the same head columns as the daily value on the period's last day, but computed through a
# matrix product of another shape: equal to round-off. atol: float round-off of the sigmoid
# output (~6e-8) times the widest range (BETA, 5) is 3e-7 < 1e-6 (1e-13 for double).
dyn_expected = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else []
names = [str(p) for p in ds["dynamic_parameter"].values] if "params_dynamic" in ds else []
check(names == dyn_expected, f"dynamic parameters {names} (want {dyn_expected})")
if names:
    pd_ = ds["params_dynamic"]
    check(pd_.dims == ("basin", "time", "dynamic_parameter"), f"params_dynamic dims {pd_.dims}")
    check(all(u not in ("", "unknown") for u in ds["dynamic_parameter_units"].values.astype(str)),
          "every dynamic parameter has units")
    tol = (1e-5, 1e-6) if ds["Q"].dtype == np.float32 else (1e-12, 1e-13)
    ranges = {"BETA": (1.0, 6.0), "C": (0.0, 1.0), "BETAET": (0.3, 5.0)}
    for j, p in enumerate(names):
        daily = pd_.values[:, :, j]
        last = daily[:, -1]
        stat = ds["params"].sel(parameter=p).values
        close = np.abs(last - stat) <= tol[0] * np.maximum(np.abs(last), np.abs(stat)) + tol[1]
        check(bool(close.all()), f"{p}: daily value on the last day = params ({last} vs {stat})")
        check(bool((daily.std(axis=1) > 0).all()), f"{p}: varies from day to day in every basin")
        lo, hi = ranges[p]
        check(bool(((daily >= lo) & (daily <= hi)).all()), f"{p}: within [{lo}, {hi}]")

# provenance
a = ds.attrs
check(a.get("Conventions") == "CF-1.8", "Conventions CF-1.8")
check(re.fullmatch(r"\d+\.\d+\.\d+.*", a.get("terragrad_version", "")) is not None, f"terragrad_version {a.get('terragrad_version')}")
check(re.fullmatch(r"[0-9a-f]{7,40}|unknown", a.get("git_commit", "")) is not None, f"git_commit {a.get('git_commit')}")
check(a.get("model_type") == kind, f"model_type {a.get('model_type')}")
check(a.get("period") == period, f"period {a.get('period')}")
with open(os.path.join(run, "config.yaml")) as f:
    check(a.get("config") == f.read(), "config attribute = the run's config.yaml")
created = a.get("date_created", "")
ok = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created) is not None
if ok:
    age = dt.datetime.now(dt.timezone.utc) - dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    ok = dt.timedelta(seconds=-5) <= age <= dt.timedelta(hours=1)
check(ok, f"date_created {created} (ISO 8601 UTC, within the last hour)")
print(f"{len(fails)} failures")
sys.exit(1 if fails else 0)
