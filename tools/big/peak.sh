#!/bin/sh
# peak.sh CMD ARGS…: runs the command and prints its wall time and peak
# RssAnon (anonymous memory: what the process allocated, not the page cache
# of mapped files), sampled from /proc every 20 ms.
"$@" &
pid=$!
start=$(date +%s.%N)
peak=0
while kill -0 $pid 2>/dev/null; do
	a=$(awk '/^RssAnon:/ {print $2}' /proc/$pid/status 2>/dev/null)
	[ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a
	sleep 0.02
done
wait $pid
rc=$?
end=$(date +%s.%N)
echo "peak RssAnon $((peak / 1024)) MiB, wall $(echo "$end - $start" | bc) s, exit $rc: $*" >&2
exit $rc
