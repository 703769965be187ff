#!/bin/sh
# make big-ab BIG_BASE=/path/to/onnxslim: make big's steps on one generated
# model (BIG_SIZE, default 8GiB), the BIG_BASE binary and this tree's one
# interleaved step by step, BIG_RUNS times each (default 1), cold cache
# before each step, then checks that both wrote the same bytes. Prints
# wall, CPU and peak RssAnon per step (peak.sh) beside cat and the dd
# direct copy of the same run. The steps: the default pipeline, then
# quantize(mode=int4) and quantize(mode=fp16), verified and with
# --no-verify.
set -e
GO=${GO:-go}
DIR=${BIG_DIR:-/tmp/onnxslim-big-ab}
SIZE=${BIG_SIZE:-8GiB}
RUNS=${BIG_RUNS:-1}
BASE=${BIG_BASE:?set BIG_BASE to the onnxslim binary to compare with}
HERE=$(cd "$(dirname "$0")" && pwd)
P="$HERE/peak.sh"
rm -rf "$DIR"
mkdir -p "$DIR/b" "$DIR/n"
cp "$BASE" "$DIR/base-onnxslim"
$GO build -o "$DIR/new-onnxslim" ./cmd/onnxslim
$GO build -o "$DIR/biggen" ./internal/biggen/cmd/biggen
cd "$DIR"
./biggen -bytes "$SIZE" -o .
cold() { ./biggen -evict $(find . -name '*.data' -o -name '*.onnx'); }
cold
"$P" cat model.onnx.data > /dev/null
cold
"$P" dd if=model.onnx.data of=copy.data bs=8M iflag=direct oflag=direct status=none
rm -f copy.data
export ONNXSLIM_PHASES=1
# step NAME SOURCE ARGS...: each binary in turn, RUNS times, the same bytes.
step() {
	name=$1 src=$2
	shift 2
	for i in $(seq "$RUNS"); do
		for b in base new; do
			d=$(echo $b | cut -c1)
			rm -f $d/$name.*
			cold
			"$P" ./$b-onnxslim "$src" -o $d/$name.onnx --quiet "$@"
		done
	done
	cmp b/$name.onnx n/$name.onnx
	if [ -f n/$name.data ]; then cmp b/$name.data n/$name.data; fi
	echo "$name: the same bytes"
}
step slim model.onnx
rm -f b/slim.*
for m in int4 fp16; do
	step $m n/slim.onnx --passes "quantize(mode=$m,report=0)"
	rm -f b/$m.* n/$m.*
	step $m-nv n/slim.onnx --passes "quantize(mode=$m,report=0)" --no-verify
	rm -f b/$m-nv.* n/$m-nv.*
done
cold
"$P" cat model.onnx.data > /dev/null
[ -n "$BIG_KEEP" ] || rm -rf "$DIR"
