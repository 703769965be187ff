#!/bin/sh
# peak.sh CMD ARGS…: runs the command and prints its wall time, CPU seconds
# (user+sys, last sample), peak RssAnon (anonymous memory: what the process
# allocated, not the page cache of mapped files) and the load average at
# its start, sampled from /proc every 20 ms.
"$@" &
pid=$!
start=$(date +%s.%N)
load=$(cut -d' ' -f1 /proc/loadavg)
tck=$(getconf CLK_TCK)
peak=0
cpu=0
while kill -0 $pid 2>/dev/null; do
	a=$(awk '/^RssAnon:/ {print $2}' /proc/$pid/status 2>/dev/null)
	[ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a
	# utime and stime: fields 14 and 15 after the command name's ")".
	c=$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | awk '{print $12 + $13}')
	[ -n "$c" ] && cpu=$c
	sleep 0.02
done
wait $pid
rc=$?
end=$(date +%s.%N)
wall=$(echo "$end - $start" | bc)
echo "peak RssAnon $((peak / 1024)) MiB, wall $wall s, CPU $(echo "scale=1; $cpu / $tck" | bc) s, load $load, exit $rc: $*" >&2
# PEAK_LOG=FILE PEAK_LABEL=NAME: also append "NAME wall peak-MiB" to FILE
# (make big's summary).
[ -z "$PEAK_LOG" ] || echo "${PEAK_LABEL:-$1} $wall $((peak / 1024))" >> "$PEAK_LOG"
exit $rc
