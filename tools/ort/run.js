#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (CPU) on TensorProto inputs and writes
// TensorProto outputs: the reference backend for onnxslim's tests.
//
//   node run.js MODEL INPUT_DIR OUTPUT_DIR [--optimize LEVEL] [--optimized-out FILE] [--threads N]
//
// INPUT_DIR holds input_0.pb, input_1.pb, … in the order of the session's inputs.
// OUTPUT_DIR receives output_0.pb, … in the order of the model's outputs.
// LEVEL is ORT's graphOptimizationLevel: disabled, basic, extended or all
// (default: all, as ORT itself). --optimized-out saves ORT's optimized model.
// --threads sets the intra-op thread count (default: ORT's, one per core);
// some kernels' summation order depends on it.
//
// TensorProto is read and written by the small codec in tensorproto.js, so the
// only dependency is onnxruntime-node.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const { parseTensor, toOrtTensor, encodeTensor } = require('./tensorproto');

// ---- main ----

function usage(msg) {
  if (msg) process.stderr.write(`run.js: ${msg}\n`);
  process.stderr.write('usage: node run.js MODEL INPUT_DIR OUTPUT_DIR [--optimize LEVEL] [--optimized-out FILE] [--threads N]\n');
  process.exit(2);
}

async function main() {
  const args = process.argv.slice(2);
  const pos = [];
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--optimize') {
      const level = args[++i];
      if (!['disabled', 'basic', 'extended', 'all'].includes(level)) usage(`bad --optimize level ${level}`);
      opts.graphOptimizationLevel = level;
    } else if (a === '--optimized-out') {
      opts.optimizedModelFilePath = args[++i];
      if (!opts.optimizedModelFilePath) usage('--optimized-out needs a file');
    } else if (a === '--threads') {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 1) usage(`bad --threads ${args[i]}`);
      opts.intraOpNumThreads = n;
    } else if (a.startsWith('--')) {
      usage(`unknown flag ${a}`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 3) usage('need MODEL INPUT_DIR OUTPUT_DIR');
  const [model, inDir, outDir] = pos;

  const session = await ort.InferenceSession.create(model, opts);
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const file = path.join(inDir, `input_${i}.pb`);
    feeds[name] = toOrtTensor(parseTensor(fs.readFileSync(file)));
  });
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  session.outputNames.forEach((name, i) => {
    fs.writeFileSync(path.join(outDir, `output_${i}.pb`), encodeTensor(name, results[name]));
  });
}

main().catch((err) => {
  process.stderr.write(`run.js: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
