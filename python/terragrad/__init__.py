"""terragrad: differentiable hydrological modelling (C library) from Python.

    import terragrad
    ds = terragrad.hbv.simulate(forcing, params, routing)      # numpy in, xarray out
    m = terragrad.metrics(sim, obs)                            # NSE, KGE, ... (dict)
    run = terragrad.train("config.yaml"); r = terragrad.open_run(run)
    terragrad.evaluate(run, data="other/", start="2000-01-01", end="2005-12-31")  # other basins
    from terragrad.torch import HBV                            # PyTorch (needs torch)

The shared library is found through $TERRAGRAD_LIB (the .so or its folder) or the
install prefix; see terragrad._lib. terragrad.torch is imported on demand.
"""
from ._version import __version__
from ._lib import TerragradError, library_version, real_name, dtype, path as library_path
from . import hbv
from ._eval import metrics, METRIC_NAMES
from ._run import train, evaluate, predict, open_run, Run  # noqa: E402

__all__ = ["__version__", "hbv", "metrics", "METRIC_NAMES", "train", "evaluate", "predict", "open_run", "Run",
           "TerragradError", "library_version", "real_name", "dtype", "library_path"]
