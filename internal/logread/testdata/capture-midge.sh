#!/usr/bin/env bash
# capture-midge.sh: run midge on a free loopback port with log_type all, drive
# a scripted session with mosquitto_pub/mosquitto_sub and raw packets sent
# through bash's /dev/tcp, and print the broker's log on stdout.
#
#   ./capture-midge.sh 1.3  > midge-1.3.log
#   ./capture-midge.sh 2.0  > midge-2.0.log
#   ./capture-midge.sh json > midge.jsonl
#   ./capture-midge.sh          # all three, written next to this script
#
# MIDGE names the binary (default: built from this checkout into a temp dir).
# The Go tests read the committed output; they never run midge.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)

if [ $# -eq 0 ]; then
	"$0" 1.3 >"$HERE/midge-1.3.log" &&
		"$0" 2.0 >"$HERE/midge-2.0.log" &&
		"$0" json >"$HERE/midge.jsonl"
	exit
fi
DIALECT=$1

if [ -z "${MIDGE:-}" ]; then
	BIN=$(mktemp -d)
	(cd "$HERE/../../.." && go build -o "$BIN/midge" ./cmd/midge) || exit 1
	MIDGE=$BIN/midge
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CONF=$(mktemp)
LOG=$(mktemp)
{
	echo "listener $PORT 127.0.0.1"
	echo "allow_anonymous true"
	echo "user root"
	echo "log_type all"
	echo "log_dest stderr"
	[ "$DIALECT" = 2.0 ] || echo "log_dialect $DIALECT"
} >"$CONF"
"$MIDGE" -c "$CONF" 2>"$LOG" &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; rm -f "$LOG" "$CONF"; [ -n "${BIN:-}" ] && rm -rf "$BIN"' EXIT
for _ in $(seq 50); do grep -q 'listen socket' "$LOG" 2>/dev/null && break; sleep 0.1; done

H=127.0.0.1
pub() { mosquitto_pub -h "$H" -p "$PORT" "$@"; }

# raw sends bytes ($1, printf format) on a fresh TCP connection and keeps it
# open for $2 seconds.
raw() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf "$1" >&3
	sleep "$2"
	exec 3<&- 3>&-
}

# A subscriber with a username, QoS 2, keepalive 5 s so that it pings.
mosquitto_sub -h "$H" -p "$PORT" -i watcher -u alice -q 2 -k 5 -t 'demo/#' >/dev/null &
SUB=$!
sleep 1
# Publishes at QoS 0, 1, 2 and a retained one.
pub -i pub0 -u bob -q 0 -t demo/qos0 -m hello
pub -i pub1 -q 1 -t demo/qos1 -m 'hello one'
pub -i pub2 -q 2 -t demo/qos2 -m 'hello two'
pub -i keeper -q 1 -r -t demo/status -m online
# A raw MQTT 3.1 (MQIsdp) CONNECT with username "joyo" and clean session 0,
# then a QoS 2 PUBLISH (mid 7) and DISCONNECT; the broker's PUBREC is not
# answered, so the handshake stays open.
raw '\x10\x1c\x00\x06MQIsdp\x03\x80\x00\x3c\x00\x08zhoujing\x00\x04joyo\x34\x0a\x00\x03a/b\x00\x07hi!\xe0\x00' 0.5
sleep 7 # watcher's keepalive: PINGREQ/PINGRESP
# A late subscriber gets the retained message, then unsubscribes.
mosquitto_sub -h "$H" -p "$PORT" -i late -q 1 -t demo/status -C 1 >/dev/null
mosquitto_sub -h "$H" -p "$PORT" -i late -c -q 1 -t demo/status -U demo/status -E >/dev/null
# Takeover: a raw 3.1.1 CONNECT for client id "dup" that stays open, then a
# second client with the same id.
raw '\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03dup' 2 &
sleep 0.5
pub -i dup -q 0 -t demo/dup -m again
wait $!
# A client killed without DISCONNECT.
mosquitto_sub -h "$H" -p "$PORT" -i victim --will-topic demo/will --will-payload bye -t demo/none >/dev/null &
VICTIM=$!
sleep 0.5
kill -9 $VICTIM
# A client that stops talking (keepalive 1 s, no PINGREQ): timeout.
raw '\x10\x10\x00\x04MQTT\x04\x02\x00\x01\x00\x04idle' 4
# Bad CONNECTs: unknown protocol name, bad protocol version.
raw '\x10\x0f\x00\x04MQTX\x04\x02\x00\x3c\x00\x03bad' 0.5
raw '\x10\x0f\x00\x04MQTT\x07\x02\x00\x3c\x00\x03bad' 0.5
kill $SUB
sleep 0.5
kill $BROKER
wait $BROKER 2>/dev/null
cat "$LOG"
