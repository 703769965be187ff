#!/bin/sh
# make big: a generated decoder-only transformer of BIG_SIZE (default 8GiB)
# weights in external data, through the default pipeline (verified; then
# again with --link-data), then quantize(mode=int4) and quantize(mode=fp16),
# BIG_ROUNDS times (default 3). Each step runs on a cold cache (every file
# dropped from the page cache) right after a cold `cat` of its input's data
# file, so that every step has its own yardstick measured beside it: on a
# VM a cold read through the page cache varies several-fold within an hour
# (compare cat's CPU times). peak.sh gives each run's wall time and peak
# anonymous memory (RssAnon); the summary at the end gives, per step, the
# median wall time, the median of its cats, the median of the step/cat
# ratios and the highest RssAnon. Also measured once: a direct read and a
# direct copy of the data (the disk's floors, no page cache), direct writes
# of the quantized outputs' sizes, and the quantize steps without
# verification (which must write the same bytes).
set -e
GO=${GO:-go}
DIR=${BIG_DIR:-/tmp/onnxslim-big}
SIZE=${BIG_SIZE:-8GiB}
ROUNDS=${BIG_ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$DIR"
mkdir -p "$DIR"
$GO build -o "$DIR/onnxslim" ./cmd/onnxslim
$GO build -o "$DIR/biggen" ./internal/biggen/cmd/biggen
cd "$DIR"
"$HERE/peak.sh" ./biggen -bytes "$SIZE" -o .
LOG="$DIR/peak.log"
: > "$LOG"
cold() { ./biggen -evict ./*.data; }
# timed LABEL CMD ARGS…: peak.sh, logged under LABEL for the summary.
timed() {
	label=$1
	shift
	PEAK_LOG="$LOG" PEAK_LABEL=$label "$HERE/peak.sh" "$@"
}
cold
timed dd-direct-read dd if=model.onnx.data of=/dev/null bs=8M iflag=direct status=none
cold
# The disk's floor for a step that writes the data out again: a copy of
# the file with direct I/O both ways (no page cache), cold.
timed dd-direct-copy dd if=model.onnx.data of=copy.data bs=8M iflag=direct oflag=direct status=none
rm -f copy.data
# ONNXSLIM_PHASES: each step's wall time by phase (load, passes,
# verification, save) on stderr.
export ONNXSLIM_PHASES=1
# step NAME DATA CMD ARGS…: a cold cat of DATA (the step's input data),
# then the step on a cold cache.
step() {
	name=$1 data=$2
	shift 2
	cold
	timed "cat:$name" cat "$data" > /dev/null
	cold
	timed "$name" "$@"
}
for r in $(seq "$ROUNDS"); do
	echo "round $r of $ROUNDS" >&2
	rm -f slim.onnx slim.data int4.onnx fp16.onnx fp16.data
	step default model.onnx.data ./onnxslim model.onnx -o slim.onnx --quiet
	# The weights it leaves alone are not copied: the output's data file
	# is a hard link to the input's.
	step link-data model.onnx.data ./onnxslim model.onnx -o linked.onnx --quiet --link-data
	if [ "$r" = 1 ]; then
		ls -li model.onnx.data linked.data
		./onnxslim verify slim.onnx linked.onnx | tail -1 # untimed: the two outputs compute the same
	fi
	rm -f linked.onnx linked.data linked.*.data
	# Verified as the default pipeline is (the interpreter decodes a large
	# model's quantized and float16 weights in each run, one at a time).
	step int4 slim.data ./onnxslim slim.onnx -o int4.onnx --passes 'quantize(mode=int4,report=0)' --quiet
	step fp16 slim.data ./onnxslim slim.onnx -o fp16.onnx --passes 'quantize(mode=fp16,report=0)' --quiet
	# fp16's floor on this disk, beside it: reading its input as cat does,
	# then writing its output's bytes directly (the disk shares its
	# bandwidth between reads and writes, so overlapping them gains
	# nothing). Its ratio to the cat before it is the least any fp16 step
	# that writes its output durably can reach.
	n=$((($(stat -c %s fp16.data) + 8388607) / 8388608))
	step io-floor:fp16 slim.data sh -c "cat slim.data > /dev/null && dd if=/dev/zero of=floor.data bs=8M count=$n oflag=direct status=none && rm -f floor.data"
done
# The disk's floor for writing a step's output: a direct write of as many
# bytes as file $1 (in 8 MiB blocks).
wfloor() {
	n=$((($(stat -c %s "$1") + 8388607) / 8388608))
	timed "dd-direct-write:$1" dd if=/dev/zero of=floor.data bs=8M count=$n oflag=direct status=none
	rm -f floor.data
}
wfloor int4.onnx
wfloor fp16.data
# The two quantize steps without verification: the pass and the save alone
# (same bytes as above).
for m in int4 fp16; do
	step "$m-no-verify" slim.data ./onnxslim slim.onnx -o $m-nv.onnx --passes "quantize(mode=$m,report=0)" --quiet --no-verify
	# (the model file names its data file, so only the data is compared then)
	if [ -f $m.data ]; then cmp $m.data $m-nv.data; else cmp $m.onnx $m-nv.onnx; fi
	echo "$m: the same bytes verified or not"
	rm -f $m-nv.onnx $m-nv.data
done
./onnxslim inspect int4.onnx | grep -E 'file|external'
ls -l "$DIR"
"$HERE/summary.sh" "$LOG"
[ -n "$BIG_KEEP" ] || rm -rf "$DIR"
