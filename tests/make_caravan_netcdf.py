"""Writes Caravan's NetCDF variant of a published-layout CSV folder, the way Caravan's own
NetCDF files are made (pandas -> xarray -> to_netcdf: a `date` dimension and coordinate,
one variable per CSV column of the same name): ROOT/timeseries/csv/<source>/<id>.csv ->
OUT/timeseries/netcdf/<source>/<id>.nc. Test fixtures only (tests/cli_caravan_netcdf.sh).
Usage: make_caravan_netcdf.py ROOT OUT"""
import os
import sys

import pandas as pd

root, out = sys.argv[1:3]
for source in sorted(os.listdir(os.path.join(root, "timeseries", "csv"))):
    os.makedirs(os.path.join(out, "timeseries", "netcdf", source), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(root, "timeseries", "csv", source))):
        # round_trip: every value the exact double the text denotes (the CSV reader's strtod)
        df = pd.read_csv(os.path.join(root, "timeseries", "csv", source, name), index_col="date",
                         parse_dates=["date"], float_precision="round_trip")
        ds = df.to_xarray()
        ds.to_netcdf(os.path.join(out, "timeseries", "netcdf", source, name[:-4] + ".nc"))
        print(source, name[:-4], dict(ds.sizes), len(ds.data_vars), "variables")
