# small_config.sh — sourced by the CLI tests that train a small run on the shared Caravan
# CAMELS-US files: prints the head of their config (seed, output, data, periods); each test
# appends its own sections (inputs, model, loss, optim, training, hbv, ...) after it, or
# changes a key with `terragrad train --set`.
# small_config [NAME=VALUE ...] (needs DATA, the shared data folder: the tests' $2, which
# CMake sets to TG_SHARED_DATA). Names and defaults:
#   seed=3                                   seed (empty: no seed line)
#   dir=                                     output.dir (empty: none; the test passes --out)
#   plots=                                   output.plots (empty: none)
#   basins="'01022500', '01031500', '01047000'"
#   attributes="p_mean, aridity, frac_snow, elev_mean"   data.attribute_names
#   train="1981-01-01 1990-12-31"            periods.train_start, periods.train_end
#   test="1991-01-01 1995-12-31"             periods.test_start, periods.test_end
# The text does not depend on anything else, so a test's `sed` on the file (a key removed
# or changed to make a bad config) and the line numbers in its expected errors stay put.
small_config() {
  local seed=3 dir= plots= basins="'01022500', '01031500', '01047000'" \
        attributes="p_mean, aridity, frac_snow, elev_mean" \
        train="1981-01-01 1990-12-31" test="1991-01-01 1995-12-31" kv
  for kv in "$@"; do
    case ${kv%%=*} in
      seed|dir|plots|basins|attributes|train|test) local "$kv" ;;
      *) echo "small_config: unknown setting '$kv'" >&2; return 2 ;;
    esac
  done
  [ -n "${DATA:-}" ] || { echo "small_config: DATA (the shared data folder) is not set" >&2; return 2; }
  [ -z "$seed" ] || echo "seed: $seed"
  if [ -n "$dir$plots" ]; then
    echo "output:"
    [ -z "$dir" ] || echo "  dir: $dir"
    [ -z "$plots" ] || echo "  plots: $plots"
  fi
  cat <<YAML
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: [$basins]
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [$attributes]
periods:
  train_start: ${train% *}
  train_end: ${train#* }
  test_start: ${test% *}
  test_end: ${test#* }
YAML
}
