#!/bin/sh
# summary.sh LOG: make big's table from peak.sh's log (lines "LABEL wall
# peak-MiB"; a step's yardstick is logged as "cat:STEP" just before it):
# per step, its runs, the median wall time, the median of its cats, the
# median of the step/cat ratios (each run against the cat just before it)
# and the highest peak RssAnon.
LOG=$1
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%-26s %4s %10s %10s %9s %12s\n' step runs "wall (s)" "cat (s)" "step/cat" "RssAnon MiB"
for name in $(awk '{print $1}' "$LOG" | grep -v '^cat:' | awk '!seen[$0]++'); do
	walls=$(awk -v n="$name" '$1 == n {print $2}' "$LOG")
	runs=$(echo "$walls" | wc -l)
	wall=$(echo "$walls" | median)
	peak=$(awk -v n="$name" '$1 == n && $3 > m {m = $3} END {print m + 0}' "$LOG")
	# Each run paired with the cat logged just before it.
	ratios=$(awk -v n="$name" '$1 == "cat:" n {c = $2} $1 == n && c != "" {print $2 / c; c = ""}' "$LOG")
	cats=$(awk -v n="$name" '$1 == "cat:" n {print $2}' "$LOG")
	if [ -n "$cats" ]; then
		cat=$(printf '%.2f' "$(echo "$cats" | median)")
		ratio=$(printf '%.2f' "$(echo "$ratios" | median)")
	else
		cat=- ratio=-
	fi
	printf '%-26s %4s %10.2f %10s %9s %12s\n' "$name" "$runs" "$wall" "$cat" "$ratio" "$peak"
done
