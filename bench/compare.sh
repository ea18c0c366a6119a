#!/usr/bin/env bash
# Runs the same scenario set against midge and Debian's mosquitto, alternating
# brokers within each round (a fresh broker process for every run), and writes
# the medians and midge/mosquitto ratios into docs/BENCHMARKS.md between the
# "results" markers.
#
#   bench/compare.sh [-r ROUNDS] [-d DURATION] [-c CASES] [-o RESULTS.jsonl] [-n]
#
#   -r ROUNDS    rounds (default 3; each round runs every case on both brokers)
#   -d DURATION  measured time per run (default 5s; plus 1s warmup)
#   -c CASES     space-separated subset of case names (default: all)
#   -o FILE      where the JSON results go (default bench/results/latest.jsonl)
#   -n           do not touch docs/BENCHMARKS.md, print the table instead
#   MIDGE_BIN=path  use this midge binary instead of building ./cmd/midge
#
# Both brokers get the same mosquitto.conf (midge reads Mosquitto's format),
# with the limits that would make Mosquitto drop or stall raised:
#   max_queued_messages 0      unlimited (default 1000): no QoS 0/1/2 drop on a busy subscriber
#   max_inflight_messages 0    unlimited (default 20): no cap on outgoing QoS 1/2 in flight
#   max_connections -1         unlimited
#   set_tcp_nodelay true       Nagle off for both (Mosquitto's default leaves it on)
#   log_dest none              no log I/O in either broker
# The idle case opens 15,000 connections: the script raises `ulimit -n` to
# 65536 (root, or a hard limit that allows it, is needed).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
DUR=5s
CASES=""
OUT=bench/results/latest.jsonl
WRITE_DOC=1
while getopts "r:d:c:o:n" opt; do
  case $opt in
    r) ROUNDS=$OPTARG ;;
    d) DUR=$OPTARG ;;
    c) CASES=$OPTARG ;;
    o) OUT=$OPTARG ;;
    n) WRITE_DOC=0 ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done

MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
[ -x "$MOSQUITTO" ] || { echo "no $MOSQUITTO (apt-get install mosquitto)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 15100 ]; then
  echo "warning: ulimit -n is $(ulimit -n); the idle case needs 15,000+ descriptors in each of the broker and the generator" >&2
fi

work=$(mktemp -d)
trap 'kill "${bpid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${MIDGE_BIN:-}" ]; then # a prebuilt midge (e.g. from a clean checkout)
  MIDGE=$MIDGE_BIN
else
  go build -o "$work/midge" ./cmd/midge
  MIDGE=$work/midge
fi

# name | midge bench arguments. qos0-fanout-slow is judged against
# qos0-fanout, so it runs right after it in each round: the machine's load
# drifts over the minutes a round takes.
all_cases=(
  "qos0-fanin|-s fanin -pubs 10 -qos 0 -size 64"
  "qos0-fanout|-s fanout -subs 50 -qos 0 -size 64"
  "qos0-fanout-slow|-s fanout -subs 50 -slow 1 -qos 0 -size 64"
  "qos1-pairs|-s pairs -pubs 50 -qos 1 -size 256"
  "qos2-fanin|-s fanin -pubs 10 -qos 2 -size 64"
  "qos1-latency|-s pairs -pubs 1 -qos 1 -size 64 -rate 5000"
  "qos0-shared|-s shared -pubs 4 -subs 4 -qos 0 -size 64"
  "idle|-s idle -conns 15000 -connect-rate 5000 -hold 3s"
)

free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % 20000 % 10000)) # below the ephemeral range
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

start_broker() { # label port -> sets bpid
  local label=$1 port=$2 conf=$work/$1.conf
  cat >"$conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_inflight_messages 0
max_connections -1
set_tcp_nodelay true
log_dest none
EOF
  if [ "$label" = midge ]; then
    "$MIDGE" -c "$conf" >"$work/$label.log" 2>&1 &
  else
    "$MOSQUITTO" -c "$conf" >"$work/$label.log" 2>&1 &
  fi
  bpid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "$label did not start:" >&2; cat "$work/$label.log" >&2; exit 1
}

stop_broker() {
  kill "$bpid" 2>/dev/null || true
  wait "$bpid" 2>/dev/null || true
  bpid=
}

mkdir -p "$(dirname "$OUT")"
: >"$OUT"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)
for round in $(seq "$ROUNDS"); do
  for entry in "${all_cases[@]}"; do
    name=${entry%%|*}
    args=${entry#*|}
    if [ -n "$CASES" ] && [[ " $CASES " != *" $name "* ]]; then continue; fi
    order="midge mosquitto"
    if [ $((round % 2)) = 0 ]; then order="mosquitto midge"; fi
    for label in $order; do
      port=$(free_port)
      start_broker "$label" "$port"
      # shellcheck disable=SC2086
      if ! "$MIDGE" bench -p "$port" $args -d "$DUR" -pid "$bpid" -name "$name" -label "$label" \
          -round "$round" -json >>"$OUT" 2>"$work/bench.err"; then
        echo "round $round $name $label: $(tail -1 "$work/bench.err")" >&2
      fi
      tail -1 "$OUT" | cut -c1-160 >&2
      stop_broker
      sleep 0.5
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

table=$("$MIDGE" bench report -a midge -b mosquitto "$OUT")
{
  echo "Run of $started, $ROUNDS rounds, $DUR measured per run (+1 s warmup), brokers alternating."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
  echo "- load average before / after: $load_before / $load_after (the machine is shared; figures are medians of rounds, compare ratios)"
  echo "- midge $(git rev-parse --short HEAD)$(git diff --quiet -- internal cmd || echo ' (with uncommitted changes)'), $(go version | cut -d' ' -f3)"
  echo "- $("$MOSQUITTO" -h 2>/dev/null | head -1) (Debian package $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null || echo '?'))"
  echo "- command: \`bench/compare.sh -r $ROUNDS -d $DUR${CASES:+ -c \"$CASES\"}\`; raw results: \`$OUT\`"
  echo
  echo "$table"
} >"$work/section.md"

if [ "$WRITE_DOC" = 0 ]; then cat "$work/section.md"; exit 0; fi
doc=docs/BENCHMARKS.md
if ! grep -q '<!-- results:begin -->' "$doc" 2>/dev/null; then
  printf '# Benchmarks\n\n<!-- results:begin -->\n<!-- results:end -->\n' >>"$doc"
fi
awk -v f="$work/section.md" '
  /<!-- results:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
  /<!-- results:end -->/ { skip = 0 }
  !skip { print }
' "$doc" >"$work/doc.md"
cp "$work/doc.md" "$doc"
echo "wrote $doc" >&2
