"""terragrad.hbv.simulate / sensitivity against the CLI (`terragrad simulate`, `terragrad
sensitivity`) on the same real inputs, continuation from final states, dynamic parameters."""
import datetime
import os
import subprocess

import numpy as np
import pytest

from conftest import caravan, rel_close

NDAYS, W, M = 1096, 365, 3
IDS = ["01022500", "01031500"]


def _real_tol(tg):
    # double: the same kernels on the same numbers -> 1e-12; float: the CSV keeps 9 digits
    # (exact), but a batch of 2 basins may take other vector lanes than the CLI's one basin
    # at a time (variants agree to 1e-6, models.h), so 1e-5
    return (1e-12, 1e-12) if tg.real_name == "double" else (1e-5, 1e-6)


@pytest.fixture(scope="module")
def case(tmp_path_factory, tg):
    rng = np.random.default_rng(11)
    work = tmp_path_factory.mktemp("sim")
    (work / "data").mkdir()
    forcing, obs = [], []
    day0 = datetime.date(1981, 1, 1)
    for b in IDS:
        d = caravan(b, NDAYS)
        forcing.append(d[:, :3])
        obs.append(d[:, 3])
        with open(work / "data" / f"{b}.csv", "w") as f:
            f.write("date,P,T,PET,Q\n")
            for t in range(NDAYS):
                q = "" if np.isnan(d[t, 3]) else repr(d[t, 3])
                f.write(f"{day0 + datetime.timedelta(days=t)},{d[t, 0]!r},{d[t, 1]!r},{d[t, 2]!r},{q}\n")
    rangeT = tg.hbv.PARAM_RANGE
    u = rng.uniform(0.1, 0.9, size=(len(IDS), 13, M))
    params = rangeT[None, :, 0, None] + u * (rangeT[None, :, 1, None] - rangeT[None, :, 0, None])
    params = params.astype(tg.dtype).astype(np.float64)          # what both sides compute with
    routing = np.array([[1.7, 2.3], [0.8, 4.1]])
    with open(work / "params.csv", "w") as f:
        f.write("basin,component," + ",".join(tg.hbv.PARAM_NAMES) + "\n")
        for b, bid in enumerate(IDS):
            for m in range(M):
                f.write(f"{bid},{m + 1}," + ",".join(repr(float(v)) for v in params[b, :, m]) + "\n")
    with open(work / "route.csv", "w") as f:
        f.write("basin,a,theta\n")
        for b, bid in enumerate(IDS):
            f.write(f"{bid},{routing[b, 0]!r},{routing[b, 1]!r}\n")
    return dict(work=work, forcing=np.stack(forcing, 1), obs=np.stack(obs, 1), params=params, routing=routing)


def _read_cli(path):
    with open(path) as f:
        head = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f]
    return head, [r[0] for r in rows], np.array([[float(x) for x in r[1:]] for r in rows])


@pytest.mark.parametrize("routed", [True, False])
def test_simulate_equals_cli(tg, cli, case, routed):
    out = case["work"] / ("out_r" if routed else "out")
    cmd = [cli, "simulate", "--model", "hbv", "--data", str(case["work"] / "data"), "--params",
           str(case["work"] / "params.csv"), "--warmup", str(W), "--out", str(out)]
    if routed:
        cmd += ["--routing", str(case["work"] / "route.csv")]
    subprocess.run(cmd, check=True, capture_output=True)
    ds = tg.hbv.simulate(case["forcing"], case["params"], routing=case["routing"] if routed else None,
                         warmup=W, basins=IDS)
    rtol, atol = _real_tol(tg)
    for b, bid in enumerate(IDS):
        head, dates, v = _read_cli(out / f"{bid}.csv")
        assert dates[0] == "1982-01-01" and len(dates) == NDAYS - W
        compared = 0
        for k, name in enumerate(head[1:]):
            ok, why = rel_close(ds[name].values[:, b], v[:, k], rtol, atol)
            assert ok, f"{bid} {name}: {why}"
            compared += 1
        assert compared == 17
        assert np.ptp(v[:, head.index("Q") - 1]) > 0.1            # a real hydrograph, not zeros


def test_states_continue_the_run(tg, case):
    f, p = case["forcing"], case["params"]
    full = tg.hbv.simulate(f, p, warmup=W)
    first = tg.hbv.simulate(f[:700], p, warmup=W)
    second = tg.hbv.simulate(f[700:], p, states=first)            # warm-up 0 by default then
    assert second.attrs["warmup"] == 0
    joined = np.concatenate([first.Q.values, second.Q.values])
    # same kernel, same stores carried over: identical to the last bit
    np.testing.assert_array_equal(joined, full.Q.values)
    np.testing.assert_array_equal(second.final_state.values, full.final_state.values)
    # without the states the second part starts from empty stores: differs
    cold = tg.hbv.simulate(f[700:], p, warmup=0)
    assert np.abs(cold.SLZ.values - second.SLZ.values).max() > 1.0


def test_dynamic_parameters(tg, case):
    f, p = case["forcing"], case["params"]
    T = f.shape[0]
    ds = tg.hbv.simulate(f, p, warmup=W)
    same = tg.hbv.simulate(f, np.broadcast_to(p, (T,) + p.shape), warmup=W)
    np.testing.assert_array_equal(ds.Q.values, same.Q.values)
    # BETA changed from day 800 on: equal before, different after
    pd_ = np.array(np.broadcast_to(p, (T,) + p.shape))
    pd_[800:, :, 0, :] = 5.5
    dyn = tg.hbv.simulate(f, pd_, warmup=W)
    k = 800 - W
    np.testing.assert_array_equal(dyn.Q.values[:k], ds.Q.values[:k])
    assert np.abs(dyn.Q.values[k:] - ds.Q.values[k:]).max() > 1e-3
    # a change inside the warm-up reaches the stores (the warm-up uses its own rows)
    pw = np.array(np.broadcast_to(p, (T,) + p.shape))
    pw[100:200, :, 1, :] = 60.0                                   # small FC for 100 warm-up days
    assert np.abs(tg.hbv.simulate(f, pw, warmup=W).SM.values[0] - ds.SM.values[0]).max() > 1e-3


def test_units_and_bad_input(tg, case):
    ds = tg.hbv.simulate(case["forcing"], case["params"], warmup=W)
    assert ds.Q.attrs["units"] == "mm d-1" and ds.SM.attrs["units"] == "mm"
    assert set(ds.final_state.state.values) == {"SNOWPACK", "MELTWATER", "SM", "SUZ", "SLZ"}
    bad = case["forcing"].copy()
    bad[5, 1, 0] = np.nan
    with pytest.raises(ValueError, match="P of basin 1 on step 5"):
        tg.hbv.simulate(bad, case["params"], warmup=W)
    with pytest.raises(ValueError, match="params"):
        tg.hbv.simulate(case["forcing"], case["params"][:, :12], warmup=W)
    with pytest.raises(ValueError, match="warmup"):
        tg.hbv.simulate(case["forcing"][:100], case["params"], warmup=W)


@pytest.mark.parametrize("loss", ["nse", "rmse"])
def test_sensitivity_equals_cli(tg, cli, case, loss):
    out = case["work"] / f"sens_{loss}"
    subprocess.run([cli, "sensitivity", "--model", "hbv", "--data", str(case["work"] / "data"), "--params",
                    str(case["work"] / "params.csv"), "--routing", str(case["work"] / "route.csv"),
                    "--warmup", str(W), "--loss", loss, "--out", str(out)], check=True, capture_output=True)
    s = tg.hbv.sensitivity(case["forcing"], case["obs"], case["params"], routing=case["routing"], warmup=W,
                           loss=loss, basins=IDS)
    rtol, atol = _real_tol(tg)
    n = 0
    with open(out / "sensitivity.csv") as f:
        assert f.readline().strip() == "basin,component,param,value,dloss_dparam"
        for line in f:
            bid, comp, par, _, g = line.strip().split(",")
            b = IDS.index(bid)
            mine = (s.dloss_droute.values[b, ["a", "theta"].index(par)] if comp == "route"
                    else s.dloss_dparam.values[b, tg.hbv.PARAM_NAMES.index(par), int(comp) - 1])
            # gradients of a pooled loss: atol relative to the largest gradient
            ok, why = rel_close(mine, float(g), rtol, atol * np.abs(s.dloss_dparam.values).max())
            assert ok, f"{bid} {comp} {par}: {why}"
            n += 1
    assert n == len(IDS) * (13 * M + 2)
