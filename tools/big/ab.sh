#!/bin/sh
# make big-ab BIG_BASE=/path/to/onnxslim: make big's steps on one generated
# model (BIG_SIZE, default 8GiB), the BIG_BASE binary and this tree's one
# interleaved step by step, cold cache before each step, then checks that
# both wrote the same bytes. Prints wall, CPU and peak RssAnon per step
# (peak.sh) beside cat and the dd direct copy of the same run.
set -e
GO=${GO:-go}
DIR=${BIG_DIR:-/tmp/onnxslim-big-ab}
SIZE=${BIG_SIZE:-8GiB}
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
cold() { ./biggen -evict "$@"; }
cold model.onnx.data
"$P" cat model.onnx.data > /dev/null
cold model.onnx.data
"$P" dd if=model.onnx.data of=copy.data bs=8M iflag=direct oflag=direct status=none
rm -f copy.data
export ONNXSLIM_PHASES=1
for b in base new; do
	d=$(echo $b | cut -c1)
	cold model.onnx.data
	"$P" ./$b-onnxslim model.onnx -o $d/slim.onnx --quiet
done
cmp b/slim.onnx n/slim.onnx
cmp b/slim.data n/slim.data
echo "default pipeline: the same bytes"
rm -f b/slim.onnx b/slim.data
for m in int4 fp16; do
	for b in base new; do
		d=$(echo $b | cut -c1)
		cold n/slim.data
		"$P" ./$b-onnxslim n/slim.onnx -o $d/$m.onnx --passes "quantize(mode=$m,report=0)" --no-verify --quiet
	done
	cmp b/$m.onnx n/$m.onnx
	if [ -f n/$m.data ]; then cmp b/$m.data n/$m.data; fi
	echo "$m: the same bytes"
	rm -f b/$m.*
done
cold model.onnx.data
"$P" cat model.onnx.data > /dev/null
[ -n "$BIG_KEEP" ] || rm -rf "$DIR"
