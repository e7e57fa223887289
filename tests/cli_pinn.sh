#!/bin/bash
# cli_pinn.sh — `terragrad pinn` end to end on tiny configs:
#   1. poisson1d (analytic reference): files written, error small enough that a broken
#      second derivative could not reach it;
#   2. a few iterations of Burgers: solution.csv on the 256 x 100 grid of the reference,
#      in its order, coefficients.csv and the loss history;
#   3. a few iterations of the richards case: solution.csv on the solver's grid, the
#      initial head exact, summary lines, figures; a bad richards key is an error;
#   4. config errors name the key and line; a missing reference file is an error.
# usage: bash cli_pinn.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1; DATA=$2; W=$3
rm -rf "$W"; mkdir -p "$W"; cd "$W" || exit 1
fail=0
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }

cat > poisson.yaml <<'YAML'
case: poisson1d
seed: 3
threads: 1
network: {hidden: 2, width: 16}
sampling: {method: sobol, collocation: 48}
train: {adam_iters: 300, adam_lr: 0.01, lbfgs_iters: 300, print_every: 100}
YAML
"$BIN" pinn poisson.yaml --out p > p.log 2>&1
check "[ $? -eq 0 ]" "poisson1d run exits 0"
check "grep -q 'adam .*100/300 .*loss .*ETA' p.log" "progress lines with loss and ETA"
check "[ \"\$(head -1 p/solution.csv)\" = 'x,u' ] && [ \$(wc -l < p/solution.csv) -eq 202 ]" "solution.csv: header x,u and 201 points"
check "[ \"\$(cat p/coefficients.csv)\" = \"\$(printf 'name,value\nk,1')\" ]" "coefficients.csv"
check "[ \$(wc -l < p/loss_history.csv) -gt 300 ] && head -1 p/loss_history.csv | grep -q '^iter,phase,loss,residual'" "loss_history.csv"
err=$(awk '/^rel_l2:/ {print $2}' p/summary.txt)
check "awk -v e=$err 'BEGIN{exit !(e < 1e-2)}'" "poisson1d relative L2 error $err < 1e-2"
# the solution file itself: max |u - sin(pi x)|
maxerr=$(awk -F, 'NR>1 {d=$2-sin(3.141592653589793*$1); if (d<0) d=-d; if (d>m) m=d} END{print m}' p/solution.csv)
check "awk -v e=$maxerr 'BEGIN{exit !(e < 2e-2)}'" "solution.csv matches sin(pi x) (max err $maxerr)"
source "$(dirname "$0")/png_check.sh"
require_gnuplot
check "png_check p/field_u.png 900 600 && png_check p/error_u.png 900 600 && png_check p/loss.png 900 600" "PNG figures (900x600)"
check "[ -f p/gnuplot.log ] && ! grep -qi 'warning\\|error' p/gnuplot.log" "gnuplot reported nothing"

cat > burgers.yaml <<'YAML'
case: burgers
threads: 1
network: {hidden: 2, width: 10}
sampling: {collocation: 300, initial: 20, boundary: 20}
train: {adam_iters: 20, lbfgs_iters: 5, print_every: 10}
output: {plots: false}
YAML
"$BIN" pinn burgers.yaml --out b --data "$DATA" > b.log 2>&1
check "[ $? -eq 0 ]" "burgers run exits 0"
check "[ \"\$(head -1 b/solution.csv)\" = 'x,t,u' ] && [ \$(wc -l < b/solution.csv) -eq 25601 ]" "burgers solution.csv: x,t,u on 25,600 points"
ref=$DATA/pinn/burgers/burgers_shock_xtu.csv
same=$(paste -d, <(cut -d, -f1,2 "$ref") <(cut -d, -f1,2 b/solution.csv) | awk -F, 'NR>1 && ($1!=$3 || $2!=$4) {n++} END{print n+0}')
check "[ $same -eq 0 ]" "burgers solution.csv in the reference's grid order"
check "grep -q '^lambda1,1$' b/coefficients.csv && grep -q '^lambda2,0.003183098' b/coefficients.csv" "burgers coefficients.csv"
check "grep -q 'relative L2 error' b.log" "burgers error printed"

cat > richards.yaml <<'YAML'
case: richards
threads: 1
network: {hidden: 2, width: 8}
richards: {solver_cells: 80, solver_dt: 2, coarse_cells: 40, coarse_dt: 10}
sampling: {collocation: 200}
train: {adam_iters: 10, lbfgs_iters: 0, print_every: 5}
YAML
"$BIN" pinn richards.yaml --out r --data "$DATA" > r.log 2>&1
check "[ $? -eq 0 ]" "richards run exits 0"
check "[ \"\$(head -1 r/solution.csv)\" = 'z,t,psi' ] && [ \$(wc -l < r/solution.csv) -eq 2998 ]" "richards solution.csv: z,t,psi on the 81 x 37 solver grid"
check "grep -q '^Ks,0.00944$' r/coefficients.csv" "richards coefficients.csv"
check "grep -q '^pinn_mass_balance: ' r/summary.txt && grep -q '^solver_fine: 80 cells' r/summary.txt && grep -q '^celia_pinn: ' r/summary.txt" "richards summary: mass balance, solver, Celia"
# t = 0 rows of the PINN field are the initial head exactly (hard constraint)
bad0=$(awk -F, 'NR>1 && $2==0 && ($3+61.5>1e-6 || $3+61.5<-1e-6) {n++} END{print n+0}' r/solution.csv)
check "[ $bad0 -eq 0 ]" "richards initial condition exact in solution.csv"
check "png_check r/profiles.png 900 600 && png_check r/field_psi.png 900 600 && png_check r/error_psi.png 900 600" "richards PNG figures (900x600)"
check "[ -f r/gnuplot.log ] && ! grep -qi 'warning\\|error' r/gnuplot.log" "richards: gnuplot reported nothing"
printf 'case: richards\nrichards:\n  ramp: 0\n' > bad4.yaml
"$BIN" pinn bad4.yaml --out x --data "$DATA" > bad4.log 2>&1
check "[ $? -ne 0 ] && grep -q 'richards.ramp' bad4.log && grep -q ':3' bad4.log" "richards: bad ramp named with its line"

printf 'case: burgers\nnetwork:\n  widht: 20\n' > bad1.yaml
"$BIN" pinn bad1.yaml --out x > bad1.log 2>&1
check "[ $? -ne 0 ] && grep -q 'widht' bad1.log && grep -q ':3' bad1.log" "unknown key named with its line"
printf 'case: burgers\ntrain:\n  adam_iters: lots\n' > bad2.yaml
"$BIN" pinn bad2.yaml --out x > bad2.log 2>&1
check "[ $? -ne 0 ] && grep -q 'adam_iters' bad2.log && grep -q ':3' bad2.log" "wrong type named with its line"
printf 'case: burgers\ndata:\n  reference: nowhere.csv\n' > bad3.yaml
"$BIN" pinn bad3.yaml --out x > bad3.log 2>&1
check "[ $? -ne 0 ] && grep -q 'data.reference' bad3.log" "missing reference file"
"$BIN" pinn > usage.log 2>&1
check "[ $? -eq 2 ]" "usage error exits 2"
exit $fail
