#!/usr/bin/env bash
# capture-mosquitto.sh: run Debian's mosquitto (-v, local-only mode) on a free
# port, drive a scripted session with mosquitto_pub/mosquitto_sub and raw
# packets sent through bash's /dev/tcp, and print the broker's log on stdout.
#
#   ./capture-mosquitto.sh > mosquitto-2.0.11.log
#
# The Go tests read the committed output; they never need mosquitto.
set -u
MOSQ=${MOSQUITTO:-/usr/sbin/mosquitto}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
"$MOSQ" -v -p "$PORT" >"$LOG" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 50); do grep -q 'running' "$LOG" 2>/dev/null && break; sleep 0.1; done

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
# Publishes at QoS 0, 1, 2, a retained one, and an MQTT 5 one over IPv6.
pub -i pub0 -u bob -q 0 -t demo/qos0 -m hello
pub -i pub1 -q 1 -t demo/qos1 -m 'hello one'
pub -i pub2 -q 2 -t demo/qos2 -m 'hello two'
pub -i keeper -q 1 -r -t demo/status -m online
pub -h ::1 -V mqttv5 -i v5pub -q 1 -t demo/v5 -m five
sleep 7   # watcher's keepalive: PINGREQ/PINGRESP
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
raw '\x10\x10\x00\x04MQTT\x04\x02\x00\x01\x00\x04idle' 9
# Bad CONNECTs: unknown protocol name, bad protocol version.
raw '\x10\x0f\x00\x04MQTX\x04\x02\x00\x3c\x00\x03bad' 0.5
raw '\x10\x0f\x00\x04MQTT\x07\x02\x00\x3c\x00\x03bad' 0.5
kill $SUB
sleep 0.5
kill $BROKER
wait $BROKER 2>/dev/null
cat "$LOG"
