"""Shared fixtures. The suite runs against the library named by $TERRAGRAD_LIB (CTest sets
it to the build's .so), the CLI of the same build ($TERRAGRAD_CLI) and the real data in
$TG_SHARED_DATA (default ../shared/data next to the checkout)."""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))     # the package from the source tree unless installed

DATA = os.environ.get("TG_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
PEER = os.environ.get("TG_PEER_DIR", os.path.join(ROOT, "..", "shared", "peer"))
CARAVAN = os.path.join(DATA, "caravan_camels_us", "timeseries")
# five basins with full P, T, PET (the first five files of the shared Caravan set)
BASINS5 = ["01022500", "01031500", "01047000", "01057000", "01134500"]


def caravan(basin, days):
    """(days, 4) P, T, PET, Q from row 0 = 1981-01-01 (NaN = missing Q)."""
    d = np.genfromtxt(os.path.join(CARAVAN, basin + ".csv"), delimiter=",", max_rows=days,
                      missing_values="NA", filling_values=np.nan)
    assert d.shape == (days, 4)
    return d


@pytest.fixture(scope="session")
def tg():
    import terragrad
    return terragrad


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("TERRAGRAD_CLI")
    if not path or not os.path.isfile(path):
        pytest.skip("TERRAGRAD_CLI (the terragrad binary of the same build) is not set")
    return path


def rel_close(a, b, rtol, atol):
    """|a-b| <= rtol*max(|a|,|b|) + atol elementwise; returns (ok, worst excess description)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    err = np.abs(a - b)
    bound = rtol * np.maximum(np.abs(a), np.abs(b)) + atol
    bad = err > bound
    if not bad.any() and np.array_equal(np.isnan(a), np.isnan(b)):
        return True, ""
    i = np.unravel_index(np.argmax(np.where(bad, err - bound, -np.inf)), a.shape)
    return False, f"{int(bad.sum())} of {a.size} differ; worst at {i}: {a[i]!r} vs {b[i]!r}"
