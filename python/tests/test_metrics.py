"""terragrad.metrics against the textbook formulas on real streamflow."""
import numpy as np
import pytest

from conftest import caravan


def test_metrics_formulas(tg):
    d = caravan("01022500", 3000)
    obs = d[:, 3]
    rng = np.random.default_rng(1)
    sim = np.where(np.isnan(obs), 1.0, obs) * rng.uniform(0.7, 1.2, obs.size) + 0.1
    sim[10] = np.nan                                      # a model failure day: skipped, counted
    m = tg.metrics(sim, obs)
    ok = np.isfinite(obs) & np.isfinite(sim)
    o, s = obs[ok], sim[ok]
    nse = 1 - np.sum((s - o) ** 2) / np.sum((o - o.mean()) ** 2)
    r = np.corrcoef(s, o)[0, 1]
    alpha, beta = s.std() / o.std(), s.mean() / o.mean()
    kge = 1 - np.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2)
    for name, want in (("NSE", nse), ("KGE", kge), ("r", r), ("alpha", alpha), ("beta_ratio", beta),
                       ("beta_nse", (s.mean() - o.mean()) / o.std()),
                       ("RMSE", np.sqrt(np.mean((s - o) ** 2)))):
        assert abs(m[name] - want) <= 1e-12 * abs(want) + 1e-14, name
    assert m["n"] == ok.sum() and m["n_sim_missing"] == 1


def test_metrics_per_basin(tg):
    obs = np.stack([caravan(b, 1000)[:, 3] for b in ("01022500", "01031500")], 1)
    sim = np.nan_to_num(obs, nan=1.0) * 0.9
    df = tg.metrics(sim, obs)
    assert list(df.index) == [0, 1]
    for b in range(2):
        assert df.loc[b, "NSE"] == tg.metrics(sim[:, b], obs[:, b])["NSE"]
    with pytest.raises(ValueError, match="shape"):
        tg.metrics(sim[:, 0], obs)
