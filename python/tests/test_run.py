"""terragrad.train / open_run round trip on a small CI training run, errors as exceptions."""
import csv
import os

import numpy as np
import pytest

from conftest import DATA


def _config(run_dir):
    return {
        "seed": 5,
        "output": {"dir": str(run_dir)},
        "data": {"source": "caravan", "path": os.path.join(DATA, "caravan_camels_us"),
                 "basins": ["01022500", "01031500"],
                 "attributes": os.path.join(DATA, "camels_us", "camels_attributes_v2.0"),
                 "attribute_names": ["p_mean", "pet_mean", "aridity"]},
        "periods": {"train_start": "1981-01-01", "train_end": "1983-12-31",
                    "test_start": "1984-01-01", "test_end": "1984-12-31"},
        "model": {"type": "dhbv", "hidden": 8},
        "training": {"epochs": 1, "iterations": 3, "batch": 2, "warmup": 90, "horizon": 90, "threads": 1},
        "hbv": {"components": 2, "dynamic": ["BETA", "BETAET"], "routing": True},
    }


@pytest.fixture(scope="module")
def run(tg, tmp_path_factory):
    d = tmp_path_factory.mktemp("run") / "r"
    assert tg.train(_config(d)) == str(d)
    return d


def _csv(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_open_run_equals_csv(tg, run):
    r = tg.open_run(run)                          # evaluates (no metrics yet) then reads
    assert os.path.isfile(run / "metrics_test.csv")
    head, rows = _csv(run / "metrics_test.csv")
    assert list(r.metrics.index) == [row[0] for row in rows] == ["01022500", "01031500"]
    for row in rows:
        for k, name in enumerate(head[1:], 1):
            assert r.metrics.loc[row[0], name] == float(row[k]), name
    head, rows = _csv(run / "params_test.csv")
    for row in rows:
        for k, name in enumerate(head[1:], 1):
            assert r.params.loc[row[0], name] == float(row[k]), name
    for b in ("01022500", "01031500"):
        head, rows = _csv(run / "predictions_test" / f"{b}.csv")
        assert len(rows) == 366 and r.predictions.sizes["time"] == 366
        assert str(r.predictions.time.values[0])[:10] == rows[0][0] == "1984-01-01"
        for k, name in enumerate(head[1:], 1):
            v = np.array([float(row[k]) if row[k] not in ("", "NA", "nan") else np.nan for row in rows])
            np.testing.assert_array_equal(r.predictions[name].sel(basin=b).values, v, err_msg=name)
    assert r.config["model"]["type"] == "dhbv" and len(r.loss) == 1
    # the metrics from the Python binding of tg_metrics_compute agree with the run's
    m = tg.metrics(r.predictions.Q.sel(basin="01022500").values, r.predictions.Q_obs.sel(basin="01022500").values)
    assert abs(m["NSE"] - r.metrics.loc["01022500", "NSE"]) <= 1e-6 * abs(m["NSE"]) + 1e-7


def test_train_errors_raise(tg, run, tmp_path):
    with pytest.raises(tg.TerragradError, match="already holds a training run"):
        tg.train(_config(run))
    cfg = _config(tmp_path / "bad")
    cfg["model"]["hidden"] = "many"
    with pytest.raises(tg.TerragradError, match="hidden"):
        tg.train(cfg)
    assert not os.path.exists(tmp_path / "bad" / "last.ckpt")
    with pytest.raises(tg.TerragradError, match="nope.yaml"):
        tg.train(str(tmp_path / "nope.yaml"))
    with pytest.raises(FileNotFoundError):
        tg.open_run(tmp_path)
