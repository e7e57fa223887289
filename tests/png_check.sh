# png_check.sh — sourced by the cli tests that draw figures.
# require_gnuplot: gnuplot is a declared dependency (scripts/deps.sh installs gnuplot-nox), so a
#   missing gnuplot fails the test instead of skipping the plot checks.
# png_check FILE W H (or FILE any): FILE is a PNG (signature) whose IHDR says W x H pixels — an empty, truncated
#   or error-page file fails, and so does a figure drawn at another size.
require_gnuplot() {
  command -v gnuplot > /dev/null || { echo "FAIL: gnuplot not found (scripts/deps.sh installs gnuplot-nox)"; exit 1; }
}
png_check() {
  local f=$1 w h
  [ -s "$f" ] || { echo "FAIL: missing or empty plot $f"; return 1; }
  [ "$(od -An -tx1 -N8 "$f" | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "FAIL: $f is not a PNG"; return 1; }
  w=$(od -An -tu4 --endian=big -j16 -N4 "$f" | tr -d ' \n')
  h=$(od -An -tu4 --endian=big -j20 -N4 "$f" | tr -d ' \n')
  [ "$w" -gt 0 ] && [ "$h" -gt 0 ] || { echo "FAIL: $f: IHDR size ${w}x${h}"; return 1; }
  [ "$2" = any ] || { [ "$w" = "$2" ] && [ "$h" = "$3" ]; } || { echo "FAIL: $f is ${w}x${h} pixels, expected $2x$3"; return 1; }
}
