"""terragrad.evaluate with data / basins / start / end / out (tg_evaluate_with): the metrics
and predictions equal those `terragrad test RUN --data ...` of the same build writes for the
same run and arguments (the same library code on the same inputs: equal to the last bit),
the default output folder is the CLI's, and errors raise without leaving a folder behind."""
import csv
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import CARAVAN, DATA

OTHER = ["01047000", "01057000", "01134500"]    # not the run's basins


def _config(run_dir):
    return {
        "seed": 3,
        "output": {"dir": str(run_dir), "plots": False},
        "data": {"source": "caravan", "path": os.path.join(DATA, "caravan_camels_us"),
                 "basins": ["01022500", "01031500"],
                 "attributes": os.path.join(DATA, "camels_us", "camels_attributes_v2.0"),
                 "attribute_names": ["p_mean", "aridity", "frac_snow", "elev_mean"]},
        "periods": {"train_start": "1982-01-01", "train_end": "1984-12-31",
                    "test_start": "1986-01-01", "test_end": "1986-12-31"},
        "model": {"type": "lstm", "hidden": 8},
        "training": {"epochs": 1, "iterations": 3, "batch": 2, "warmup": 90, "horizon": 120, "threads": 1},
    }


@pytest.fixture(scope="module")
def setup(tg, tmp_path_factory):
    base = tmp_path_factory.mktemp("evalwith")
    run = base / "run"
    tg.train(_config(run))
    other = base / "other"
    (other / "timeseries").mkdir(parents=True)
    for b in OTHER:
        shutil.copy(os.path.join(CARAVAN, b + ".csv"), other / "timeseries")
    return base, run, other


def _table(path):
    """rows of a CSV as {first column: [values as float, NaN for nan/NA]}, and the header"""
    with open(path) as f:
        rows = list(csv.reader(f))
    num = lambda x: np.nan if x in ("", "NA", "nan") else float(x)  # noqa: E731
    return rows[0], {r[0]: np.array([num(x) for x in r[1:]]) for r in rows[1:]}


def _same(a, b):
    ha, ta = _table(a)
    hb, tb = _table(b)
    assert ha == hb, (a, b)
    assert list(ta) == list(tb), (a, list(ta), list(tb))
    for k in ta:   # equal values, NaN where NaN
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=f"{a} vs {b}, row {k}")
    return ta


def _without_q(folder, basins):
    """A Caravan folder of these basins' files with the Q column all NA (P, T, PET kept)."""
    (folder / "timeseries").mkdir(parents=True)
    for b in basins:
        with open(os.path.join(CARAVAN, b + ".csv")) as f, open(folder / "timeseries" / f"{b}.csv", "w") as g:
            g.writelines(",".join(line.split(",")[:3]) + ",NA\n" for line in f)
    return folder


def _cli(cli, *args):
    p = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def test_basins_dates_out_equal_cli(tg, cli, setup):
    base, run, other = setup
    lst = base / "two.txt"
    lst.write_text("01047000\n01134500\n")
    _cli(cli, "test", run, "--data", other, "--basins", lst, "--start", "1987-01-01", "--end", "1987-12-31",
         "--out", base / "cli1")
    got = tg.evaluate(run, data=other, basins=["01047000", "01134500"], start="1987-01-01", end="1987-12-31",
                      out=base / "py1")
    assert got == str(base / "py1")
    m = _same(base / "cli1" / "metrics_apply.csv", base / "py1" / "metrics_apply.csv")
    assert list(m) == ["01047000", "01134500"]
    assert all(np.isfinite(v[0]) for v in m.values())          # NSE scored, not NaN
    for b in m:
        p = _same(base / "cli1" / "predictions_apply" / f"{b}.csv", base / "py1" / "predictions_apply" / f"{b}.csv")
        assert len(p) == 365
    assert os.path.isfile(base / "py1" / "outputs_apply.source")
    r = tg.open_run(base / "py1", "apply")                     # the outputs read back as a run's
    assert list(r.metrics.index) == list(m) and r.metrics.loc["01047000", "NSE"] == m["01047000"][0]
    # the run's own test period, scored on the other folder's basins: another result
    tg.evaluate(run, data=other, basins=["01047000", "01134500"], out=base / "py1t")
    _, t = _table(base / "py1t" / "metrics_test.csv")
    assert not np.array_equal(t["01047000"], m["01047000"])


def test_default_folder_and_overrides_equal_cli(tg, cli, setup):
    base, run, other = setup
    _cli(cli, "test", run, "--data", other, "--set", "training.warmup=60")
    out = run / "apply_other"
    cli_m = base / "cli2_metrics.csv"
    shutil.copy(out / "metrics_test.csv", cli_m)
    got = tg.evaluate(run, data=str(other) + "/", overrides={"training.warmup": 60})
    assert got == str(out)
    m = _same(cli_m, out / "metrics_test.csv")
    assert list(m) == OTHER
    # the override reached the model: the default warm-up (90 days) scores otherwise
    tg.evaluate(run, data=other, out=base / "py2w")
    _, w = _table(base / "py2w" / "metrics_test.csv")
    assert not np.array_equal(w["01057000"], m["01057000"])
    # the run's own outputs are not touched
    assert not os.path.exists(run / "metrics_test.csv")


def test_predict_without_observations_equal_cli_and_evaluate(tg, cli, setup):
    """terragrad.predict on basins whose Q column is all NA: the same files as `terragrad
    predict`, and the same simulated Q, day by day, as evaluate on the observed copy."""
    base, run, other = setup
    noq = _without_q(base / "noq_pred", OTHER[:2])
    got = tg.predict(run, noq, "1987-01-01", "1987-06-30", base / "pp")
    assert got == str(base / "pp")
    assert not os.path.exists(base / "pp" / "metrics_predict.csv")     # nothing to score
    _cli(cli, "predict", run, "--data", noq, "--start", "1987-01-01", "--end", "1987-06-30", "--out", base / "pc")
    tg.evaluate(run, data=other, basins=OTHER[:2], start="1987-01-01", end="1987-06-30", out=base / "pe")
    for b in OTHER[:2]:
        p = _same(base / "pc" / "predictions_predict" / f"{b}.csv", base / "pp" / "predictions_predict" / f"{b}.csv")
        assert len(p) == 181
        _, e = _table(base / "pe" / "predictions_apply" / f"{b}.csv")
        q_pred = np.array([v[1] for v in p.values()])
        q_eval = np.array([v[1] for v in e.values()])
        assert np.all(np.isnan([v[0] for v in p.values()]))         # Q_obs: NA everywhere
        assert np.all(np.isfinite(q_pred))
        np.testing.assert_array_equal(q_pred, q_eval)
    with pytest.raises(tg.TerragradError, match="1900"):            # forcing does not cover the warm-up
        tg.predict(run, noq, "1900-01-01", "1900-12-31", base / "pbad")
    assert not os.path.exists(base / "pbad")


def test_errors_raise_and_leave_nothing(tg, setup):
    base, run, other = setup
    noq = _without_q(base / "noq", OTHER[:2])
    with pytest.raises(tg.TerragradError, match="none of the 2 basins has observed streamflow .*terragrad predict"):
        tg.evaluate(run, data=noq, out=base / "e1")
    assert not os.path.exists(base / "e1")
    with pytest.raises(tg.TerragradError, match="a start date needs an end date"):
        tg.evaluate(run, data=other, start="1987-01-01", out=base / "e2")
    assert not os.path.exists(base / "e2")
    with pytest.raises(tg.TerragradError, match="99999999"):
        tg.evaluate(run, data=other, basins=["99999999"], out=base / "e3")
    assert not os.path.exists(base / "e3")
    with pytest.raises(FileNotFoundError):
        tg.evaluate(base / "nothing", data=other)
