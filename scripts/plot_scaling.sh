#!/usr/bin/env bash
# plot_scaling.sh — PNG curves from the CSV of bench/bench_scaling (gnuplot).
#   scripts/plot_scaling.sh [CSV] [OUTDIR]     (defaults: bench/figures/scaling.csv, bench/figures)
# Figures (dhbv-lean = the same δHBV computing only the head outputs it uses): scaling_basins.png (epoch time vs basins), scaling_window.png (time per step vs
# window, with/without checkpointing), memory_window.png (arena peak and RSS vs window),
# throughput_basins.png (basin-days per CPU-second vs basins).
set -euo pipefail
CSV=${1:-bench/figures/scaling.csv}
OUT=${2:-bench/figures}
[ -f "$CSV" ] || { echo "plot_scaling.sh: $CSV not found" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot_scaling.sh: gnuplot not installed" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Series as whitespace-separated files. Columns of the CSV (see bench_scaling.c HEADER):
# 1 model 2 ranks 3 threads 4 basins 5 batch 6 window 7 ckpt 8 segment 9 hidden 10 steps
# 11 wall_step_s 12 cpu_step_s 13 epoch_wall_s 14 epoch_cpu_s 15 bd_per_s_wall
# 16 bd_per_s_cpu 17 arena_peak_mb 18 rss_peak_mb 19 arena_bytes_per_bd
for m in dhbv dhbv-lean lstm; do
  for th in 1 2; do   # basins sweep: window 365, batch min(100, basins), one rank
    awk -F, -v m=$m -v th=$th 'NR > 1 && $1 == m && $2 == 1 && $3 == th && $6 == 365 && $7 == 0 &&
      ($5 == 100 || $5 == $4) && $4 != 128 && $4 != 32 && !seen[$4]++ { print $4, $14, $13, $16, $15 }' "$CSV" | sort -n \
      > "$TMP/basins_${m}_t$th.dat"
  done
  for ck in 0 -1; do  # window sweep: 32 basins in one batch
    awk -F, -v m=$m -v ck=$ck 'NR > 1 && $1 == m && $2 == 1 && $3 == 1 && $4 == 32 && $5 == 32 && $7 == ck {
      print $6, $12, $11, $17, $18 }' "$CSV" | sort -n > "$TMP/window_${m}_ck$ck.dat"
  done
done

# slope-1 reference through the dHBV 1-thread point at 1000 basins
REF=$(awk '$1 == 1000 { print $2 / 1000; exit }' "$TMP/basins_dhbv_t1.dat"); REF=${REF:-0.01}

gnuplot <<GP
set terminal pngcairo size 900,600 font "sans,11"
set grid
set key top left

set output "$OUT/scaling_basins.png"
set title "Epoch cost vs number of basins (window 365 d, batches of 100 basins, float)"
set logscale xy
set xlabel "basins"
set ylabel "CPU seconds per epoch (forward + backward)"
plot "$TMP/basins_dhbv_t1.dat" u 1:2 w lp pt 7 lw 2 t "dHBV, 1 thread", \
     "$TMP/basins_dhbv_t2.dat" u 1:2 w lp pt 5 lw 2 t "dHBV, 2 threads", \
     "$TMP/basins_lstm_t1.dat" u 1:2 w lp pt 9 lw 2 t "LSTM, 1 thread", \
     "$TMP/basins_lstm_t2.dat" u 1:2 w lp pt 11 lw 2 t "LSTM, 2 threads", \
     "$TMP/basins_dhbv_t1.dat" u 1:(\$1 * $REF) w l dt 2 lc rgb "gray" t "slope 1 (linear)"

set output "$OUT/throughput_basins.png"
set title "Throughput vs number of basins (window 365 d, float)"
set logscale x
unset logscale y
set yrange [0:*]
set ylabel "basin-days per CPU-second"
plot "$TMP/basins_dhbv_t1.dat" u 1:4 w lp pt 7 lw 2 t "dHBV, 1 thread", \
     "$TMP/basins_dhbv_t2.dat" u 1:4 w lp pt 5 lw 2 t "dHBV, 2 threads", \
     "$TMP/basins_lstm_t1.dat" u 1:4 w lp pt 9 lw 2 t "LSTM, 1 thread", \
     "$TMP/basins_lstm_t2.dat" u 1:4 w lp pt 11 lw 2 t "LSTM, 2 threads"

set output "$OUT/scaling_window.png"
set title "Cost of one step vs window length (32 basins, 1 thread, float)"
unset logscale
set yrange [0:*]
set xlabel "window (days)"
set ylabel "CPU seconds per step"
plot "$TMP/window_dhbv_ck0.dat" u 1:2 w lp pt 7 lw 2 t "dHBV", \
     "$TMP/window_dhbv_ck-1.dat" u 1:2 w lp pt 6 lw 2 t "dHBV, checkpointed (sqrt T)", \
     "$TMP/window_dhbv-lean_ck0.dat" u 1:2 w lp pt 13 lw 2 t "dHBV, lean head", \
     "$TMP/window_dhbv-lean_ck-1.dat" u 1:2 w lp pt 12 lw 2 t "dHBV, lean head, checkpointed", \
     "$TMP/window_lstm_ck0.dat" u 1:2 w lp pt 9 lw 2 t "LSTM", \
     "$TMP/window_lstm_ck-1.dat" u 1:2 w lp pt 8 lw 2 t "LSTM, checkpointed (sqrt T)"

set output "$OUT/memory_window.png"
set title "Peak memory of one step vs window length (32 basins, float)"
set ylabel "MB"
plot "$TMP/window_dhbv_ck0.dat" u 1:4 w lp pt 7 lw 2 t "dHBV arena peak", \
     "$TMP/window_dhbv_ck-1.dat" u 1:4 w lp pt 6 lw 2 t "dHBV arena peak, checkpointed", \
     "$TMP/window_dhbv-lean_ck0.dat" u 1:4 w lp pt 13 lw 2 t "dHBV lean head, arena peak", \
     "$TMP/window_dhbv-lean_ck-1.dat" u 1:4 w lp pt 12 lw 2 t "dHBV lean head, arena peak, checkpointed", \
     "$TMP/window_lstm_ck0.dat" u 1:4 w lp pt 9 lw 2 t "LSTM arena peak", \
     "$TMP/window_lstm_ck-1.dat" u 1:4 w lp pt 8 lw 2 t "LSTM arena peak, checkpointed", \
     "$TMP/window_dhbv_ck0.dat" u 1:5 w l dt 2 lw 1 t "dHBV RSS", \
     "$TMP/window_dhbv_ck-1.dat" u 1:5 w l dt 3 lw 1 t "dHBV RSS, checkpointed"
GP
ls -1 "$OUT"/*.png
