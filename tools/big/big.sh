#!/bin/sh
# make big: a generated decoder-only transformer of BIG_SIZE (default 8GiB)
# weights in external data, through the default pipeline (verified; then
# again with --link-data), then quantize(mode=int4) and quantize(mode=fp16); each step's wall time and
# peak anonymous memory (RssAnon) beside `cat model.onnx.data > /dev/null`,
# every file dropped from the page cache first (cold cache), a direct read
# and a direct copy of the data, and direct writes of the quantized
# outputs' sizes (the disk's floors).
set -e
GO=${GO:-go}
DIR=${BIG_DIR:-/tmp/onnxslim-big}
SIZE=${BIG_SIZE:-8GiB}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$DIR"
mkdir -p "$DIR"
$GO build -o "$DIR/onnxslim" ./cmd/onnxslim
$GO build -o "$DIR/biggen" ./internal/biggen/cmd/biggen
cd "$DIR"
"$HERE/peak.sh" ./biggen -bytes "$SIZE" -o .
cold() { ./biggen -evict ./*.data; }
# cat three times: on a VM a cold read through the page cache varies with
# more than the disk (the guest's page allocation: compare cat's CPU
# times); then the data read with direct I/O, no page cache.
for i in 1 2 3; do
	cold
	"$HERE/peak.sh" cat model.onnx.data > /dev/null
done
cold
"$HERE/peak.sh" dd if=model.onnx.data of=/dev/null bs=8M iflag=direct status=none
cold
# The disk's floor for a step that writes the data out again: a copy of
# the file with direct I/O both ways (no page cache), cold.
"$HERE/peak.sh" dd if=model.onnx.data of=copy.data bs=8M iflag=direct oflag=direct status=none
rm -f copy.data
cold
# ONNXSLIM_PHASES: each step's wall time by phase (load, passes,
# verification, save) on stderr.
export ONNXSLIM_PHASES=1
"$HERE/peak.sh" ./onnxslim model.onnx -o slim.onnx --quiet
cold
# The same with --link-data: the weights it leaves alone are not copied,
# the output's data file is a hard link to the input's.
"$HERE/peak.sh" ./onnxslim model.onnx -o linked.onnx --quiet --link-data
ls -li model.onnx.data linked.data
./onnxslim verify slim.onnx linked.onnx | tail -1 # untimed: the two outputs compute the same
rm -f linked.onnx linked.data linked.*.data
cold
# The disk's floor for writing a step's output: a direct write of as many
# bytes as file $1 (in 8 MiB blocks).
wfloor() {
	n=$((($(stat -c %s "$1") + 8388607) / 8388608))
	"$HERE/peak.sh" dd if=/dev/zero of=floor.data bs=8M count=$n oflag=direct status=none
	rm -f floor.data
}
# Verified as the default pipeline is (the interpreter decodes a large
# model's quantized and float16 weights in each run, one at a time).
"$HERE/peak.sh" ./onnxslim slim.onnx -o int4.onnx --passes 'quantize(mode=int4,report=0)' --quiet
wfloor int4.onnx
cold
"$HERE/peak.sh" ./onnxslim slim.onnx -o fp16.onnx --passes 'quantize(mode=fp16,report=0)' --quiet
wfloor fp16.data
# The two quantize steps without verification: the pass and the save alone
# (same bytes as above).
for m in int4 fp16; do
	cold
	"$HERE/peak.sh" ./onnxslim slim.onnx -o $m-nv.onnx --passes "quantize(mode=$m,report=0)" --quiet --no-verify
	# (the model file names its data file, so only the data is compared then)
	if [ -f $m.data ]; then cmp $m.data $m-nv.data; else cmp $m.onnx $m-nv.onnx; fi
	echo "$m: the same bytes verified or not"
	rm -f $m-nv.onnx $m-nv.data
done
./onnxslim inspect int4.onnx | grep -E 'file|external'
ls -l "$DIR"
[ -n "$BIG_KEEP" ] || rm -rf "$DIR"
