#!/usr/bin/env bash
# fuzz.sh — libFuzzer targets of the file parsers (fuzz/, docs/fuzzing.md).
#
#   scripts/fuzz.sh build            clang build of the library (fuzzer-no-link, ASan, UBSan)
#                                    and of every fuzz/fuzz_<target>.c; builds the seed corpus
#   scripts/fuzz.sh replay           runs every target once over each regression input
#                                    (tests/fuzz_regressions/<target>/) and each seed: no crash,
#                                    no sanitizer report, no leak
#   scripts/fuzz.sh run SECONDS [TARGET...]
#                                    fuzzes each target (all by default) for SECONDS, one at a
#                                    time; new findings land in $FUZZ_BUILD/crashes/<target>/
#                                    and make the script fail; prints executions per target
#
# Environment: FUZZ_BUILD (build folder, default /tmp/build-fuzz), TG_SHARED_DATA (real
# data for the seeds, default ../shared/data next to the checkout), FUZZ_JOBS (parallel
# build jobs, default 2). The seed corpus holds small excerpts (first lines) of the real
# files, built at run time: no data is copied into the repository.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${FUZZ_BUILD:-/tmp/build-fuzz}
DATA=${TG_SHARED_DATA:-$ROOT/../shared/data}
REG=$ROOT/tests/fuzz_regressions
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0}
export OMP_NUM_THREADS=1

die() { echo "fuzz.sh: $*" >&2; exit 1; }

targets() {
    local t
    for t in "$ROOT"/fuzz/fuzz_*.c; do
        t=$(basename "$t" .c)
        [ "$t" = fuzz_common ] || echo "${t#fuzz_}"
    done
}

# ------------------------------------------------------------------ seeds
# first N lines of a file into dir/name (small excerpts only)
excerpt() { head -n "$3" "$1" > "$2"; }

seeds() {
    local S=$B/seeds f i
    rm -rf "$S"
    for t in $(targets); do mkdir -p "$S/$t"; done
    [ -d "$DATA" ] || die "no real data at $DATA (set TG_SHARED_DATA)"
    # Caravan CSV (no header) and, from it, the generic CSV (date,P,T,PET,Q)
    i=0
    for f in "$DATA"/caravan_camels_us/timeseries/{01022500,12095000,05291000}.csv; do
        excerpt "$f" "$S/caravan/$i.csv" 40
        awk -F, 'BEGIN { print "date,P,T,PET,Q"; d = 1 }
                 NR <= 40 { printf "1981-01-%02d,%s,%s,%s,%s\n", d, $1, $2, $3, $4; d++; if (d > 31) exit }' \
            "$f" > "$S/csv_basin/caravan_$i.csv"
        i=$((i + 1))
    done
    i=0
    for f in $(find "$DATA"/caravan_official_sample/timeseries -name '*.csv' | sort | head -3); do
        excerpt "$f" "$S/csv_basin/official_$i.csv" 6
        i=$((i + 1))
    done
    excerpt "$DATA/marrmot_example/03604000_buffalo_river_TN.csv" "$S/csv_basin/marrmot.csv" 30
    printf 'date,P,T,PET,Q\n2000-01-01,1.5,NA,0.3,\n2000-01-03,nan,2,0.4,1e-3\n' > "$S/csv_basin/gaps.csv"
    # CAMELS-US forcing (three products) and streamflow (the basin and dates of the fixed forcing)
    for p in daymet maurer nldas; do
        f=$(find "$DATA/camels_us/basin_mean_forcing/$p" -name '*.txt' | sort | head -1)
        [ -n "$f" ] && excerpt "$f" "$S/camels_forcing/$p.txt" 40
    done
    grep -m 40 ' 1990 0[12] ' "$DATA/camels_us/usgs_streamflow/01/01022500_streamflow_qc.txt" \
        > "$S/camels_streamflow/01022500.txt"
    excerpt "$DATA/camels_us/usgs_streamflow/01/01022500_streamflow_qc.txt" "$S/camels_streamflow/other_dates.txt" 20
    # CAMELS attribute folder: mode byte, then the first lines of the seven files
    local A=$DATA/camels_us/camels_attributes_v2.0
    for mode in 0 1 3 8; do
        {
            printf "\\$(printf '%03o' $mode)"
            first=1
            for k in clim geol hydro name soil topo vege; do
                [ $first = 1 ] || printf '\n=====\n'
                first=0
                head -n 6 "$A/camels_$k.txt" | tr -d '\r'
            done
        } > "$S/camels_attributes/mode$mode.bin"
    done
    # generic attributes.csv (numeric columns, basin_id header)
    head -n 6 "$DATA/caravan_official_sample/attributes/camels/attributes_hydroatlas_camels.csv" |
        cut -d, -f1-30 | sed '1s/^gauge_id/basin_id/' > "$S/attributes_csv/hydroatlas.csv"
    head -n 6 "$A/camels_topo.txt" | tr ';' ',' | sed '1s/^gauge_id/basin_id/' > "$S/attributes_csv/topo.csv"
    # basin lists
    cut -d, -f1 "$DATA/caravan_camels_us/basins.csv" | sed -n '2,21p' > "$S/basin_list/basins.txt"
    printf '# comment\n01022500\n\n  12095000  # trailing\n' > "$S/basin_list/comments.txt"
    # simulate tables (test fixtures)
    cp "$ROOT/tests/fixtures/hbv_peer_params.csv" "$S/hbv_params/"
    cp "$ROOT/tests/fixtures/hbv_peer_route.csv" "$S/route/"
    # normalisation file (the format tg_norm_save writes)
    printf '# terragrad normalisation statistics v1\n# name log eps mean std count\nP 1 0.10000000000000001 0.5 1.25 9131\nT 0 1 8.25 9.5 9131\narea_gages2 0 1 750 1200 200\n' \
        > "$S/norm/normalisation.txt"
    # training configs: the examples
    for f in "$ROOT"/examples/{lstm,dhbv,hybrid}*.yaml; do cp "$f" "$S/config/"; done
    # checkpoints: written by the target itself (its fixed model)
    TG_FUZZ_SEED_OUT="$S/checkpoint" "$B/fuzz/fuzz_checkpoint" >/dev/null 2>&1 ||
        die "fuzz_checkpoint could not write its seeds"
    # NetCDF (classic formats): two layouts, char and packed values, from CDL
    netcdf_seeds "$S/netcdf"
}

netcdf_seeds() {
    local d=$1
    cat > "$d/bt.cdl" <<'EOF'
netcdf bt {
dimensions: basin = 2 ; time = 5 ; id_len = 8 ;
variables:
  double time(time) ; time:units = "days since 1970-01-01" ;
  char basin_id(basin, id_len) ; basin_id:cf_role = "timeseries_id" ;
  double lat(basin) ; double area(basin) ;
  float P(basin, time) ; P:units = "mm/day" ; P:_FillValue = -9999.f ;
  float Q(basin, time) ; Q:units = "mm/day" ; Q:missing_value = -1.f ;
  int pet_method(basin) ;
data:
  time = 7305, 7306, 7307, 7308, 7309 ;
  basin_id = "01022500", "x-7" ;
  lat = 44.6, 51.5 ; area = 620.4, 12 ;
  P = 1, 2, -9999, 0, 3.5, 0, 0, 1e-3, 2, 1 ;
  Q = 0.5, 0.6, 0.7, -1, 0.9, 1, 1, 1, 1, 1 ;
  pet_method = 2, -1 ;
}
EOF
    cat > "$d/tb.cdl" <<'EOF'
netcdf tb {
dimensions: time = 4 ; basin = 3 ; id_len = 4 ;
variables:
  int time(time) ; time:units = "days since 1990-01-01 00:00:00" ;
  char station(basin, id_len) ; station:cf_role = "timeseries_id" ;
  short T(time, basin) ; T:units = "degC" ; T:scale_factor = 0.01 ; T:add_offset = 5. ; T:_FillValue = -32768s ;
  double PET(time, basin) ; PET:units = "mm/day" ;
  double latitude(basin) ; double elevation(basin) ;
data:
  time = 0, 1, 2, 3 ;
  station = "A1", "B2", "C3" ;
  T = 100, -200, -32768, 0, 1, 2, 3, 4, 5, 6, 7, 8 ;
  PET = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 ;
  latitude = 1, 2, 3 ; elevation = 10, 20, 30 ;
}
EOF
    ncgen -k classic -o "$d/bt.nc" "$d/bt.cdl"
    ncgen -k 64-bit-offset -o "$d/tb.nc" "$d/tb.cdl"
    ncgen -k cdf5 -o "$d/bt5.nc" "$d/bt.cdl"
    rm -f "$d"/*.cdl
}

# ------------------------------------------------------------------ commands
cmd_build() {
    "$ROOT/scripts/fuzz_deps.sh"   # clang, libFuzzer runtime, OpenMP for clang: only what is missing
    CC=clang cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release -DTG_FUZZ=ON -DTG_WITH_MPI=OFF >/dev/null
    cmake --build "$B" -j"${FUZZ_JOBS:-2}" --target fuzz_all
    seeds
    echo "fuzz.sh: built $(targets | wc -l) targets in $B/fuzz, seeds in $B/seeds"
}

need_build() {
    local t
    for t in $(targets); do [ -x "$B/fuzz/fuzz_$t" ] || die "$B/fuzz/fuzz_$t missing: run scripts/fuzz.sh build"; done
    [ -d "$B/seeds" ] || die "no seeds in $B: run scripts/fuzz.sh build"
}

cmd_replay() {
    need_build
    local t n total=0 fail=0 files
    for t in $(targets); do
        mapfile -t files < <(find "$REG/$t" "$B/seeds/$t" -type f 2>/dev/null | sort)
        n=${#files[@]}
        [ "$n" -gt 0 ] || { echo "replay $t: no inputs" >&2; fail=1; continue; }
        if "$B/fuzz/fuzz_$t" -runs=1 "${files[@]}" > "$B/replay_$t.log" 2>&1; then
            echo "replay $t: $n inputs ok"
        else
            echo "replay $t: FAILED (log: $B/replay_$t.log)" >&2
            tail -n 40 "$B/replay_$t.log" >&2
            fail=1
        fi
        total=$((total + n))
    done
    [ $fail = 0 ] || die "replay failed"
    echo "fuzz.sh: replay of $total inputs passed"
}

cmd_run() {
    local secs=${1:-}
    [[ "$secs" =~ ^[0-9]+$ ]] || die "usage: fuzz.sh run SECONDS [TARGET...]"
    shift
    need_build
    local list=("$@") t fail=0 execs rate
    [ ${#list[@]} -gt 0 ] || mapfile -t list < <(targets)
    for t in "${list[@]}"; do
        [ -x "$B/fuzz/fuzz_$t" ] || die "unknown target $t"
        mkdir -p "$B/corpus/$t" "$B/crashes/$t"
        local seeds_in=("$B/seeds/$t") extra=()
        [ -f "$ROOT/fuzz/fuzz_$t.options" ] && mapfile -t extra < <(grep -v '^#' "$ROOT/fuzz/fuzz_$t.options")
        [ -d "$REG/$t" ] && seeds_in+=("$REG/$t")
        if "$B/fuzz/fuzz_$t" "$B/corpus/$t" "${seeds_in[@]}" -max_total_time="$secs" -timeout=10 \
            -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
            -artifact_prefix="$B/crashes/$t/" "${extra[@]}" > "$B/run_$t.log" 2>&1; then
            :
        else
            echo "run $t: FINDING (log: $B/run_$t.log, input in $B/crashes/$t/)" >&2
            grep -m 5 -E 'ERROR|runtime error|SUMMARY' "$B/run_$t.log" >&2 || true
            fail=1
        fi
        execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/run_$t.log" | head -1 | grep -o '[0-9]*$' || true)
        rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$B/run_$t.log" | head -1 | grep -o '[0-9]*$' || true)
        echo "run $t: ${secs}s, ${execs:-0} executions, ${rate:-0} exec/s"
    done
    [ $fail = 0 ] || die "fuzzing found crashes (see above)"
}

case "${1:-}" in
    build) cmd_build ;;
    seeds) seeds ;;
    replay) cmd_replay ;;
    run) shift; cmd_run "$@" ;;
    *) die "usage: fuzz.sh build | replay | run SECONDS [TARGET...]" ;;
esac
