#!/usr/bin/python3
"""The learned precipitation multiplier PCORR of a δHBV run against the observed runoff ratio.

    /usr/bin/python3 scripts/pcorr_runoff_ratio.py RUN_DIR [PERIOD]

Reads RUN_DIR/params_<PERIOD>.csv (column PCORR) and RUN_DIR/predictions_<PERIOD>/<basin>.csv
(Q_obs, rain, snow). HBV's rain + snow is PCORR * P, so P = (rain + snow) / PCORR; the
observed runoff ratio is sum(Q_obs) / sum(P) over the days with an observation. Prints one
line per basin to RUN_DIR/pcorr_runoff_<PERIOD>.csv and, on stdout, the median PCORR, the
median runoff ratio and the Pearson and Spearman correlations over basins.
"""
import csv, os, sys
from statistics import correlation, median


def ranks(v):  # statistics.correlation(method="ranked") needs Python 3.12; Debian 12 has 3.11
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    run = sys.argv[1]
    period = sys.argv[2] if len(sys.argv) == 3 else "test"
    params_path = os.path.join(run, f"params_{period}.csv")
    with open(params_path) as f:
        rows = list(csv.DictReader(f))
    if not rows or "PCORR" not in rows[0]:
        sys.exit(f"{params_path}: line 1: no column PCORR (train with model.precip_correction: true)")
    if "SFCF" in rows[0]:  # rain + snow = PCORR P (1 + (SFCF - 1) s(T)): P is not recoverable here
        sys.exit(f"{params_path}: line 1: column SFCF: with the snowfall factor rain + snow is not PCORR * P")
    out = []
    for row in rows:
        basin, pcorr = row["basin"], float(row["PCORR"])
        pred = os.path.join(run, f"predictions_{period}", f"{basin}.csv")
        q_sum = p_sum = 0.0
        with open(pred) as f:
            for r in csv.DictReader(f):
                if r["Q_obs"] in ("NA", "", "nan"):  # gaps in the record
                    continue
                q = float(r["Q_obs"])
                q_sum += q
                p_sum += (float(r["rain"]) + float(r["snow"])) / pcorr
        if p_sum <= 0:
            sys.exit(f"{pred}: no precipitation on the days with observed Q")
        out.append((basin, pcorr, q_sum / p_sum))
    dst = os.path.join(run, f"pcorr_runoff_{period}.csv")
    with open(dst + ".tmp", "w") as f:
        f.write("basin,PCORR,runoff_ratio_obs\n")
        for b, p, rr in out:
            f.write(f"{b},{p:.6g},{rr:.6g}\n")
    os.replace(dst + ".tmp", dst)
    pc = [o[1] for o in out]
    rr = [o[2] for o in out]
    print(f"basins {len(out)}  median PCORR {median(pc):.3f} (range {min(pc):.3f}..{max(pc):.3f})  "
          f"median runoff ratio {median(rr):.3f}  Pearson r {correlation(pc, rr):+.3f}  "
          f"Spearman {correlation(ranks(pc), ranks(rr)):+.3f}  -> {dst}")


if __name__ == "__main__":
    main()
