#!/usr/bin/env node
// Times ONNX Runtime's offline graph optimization: session creation with the
// given graphOptimizationLevel writing the optimized model, as onnxslim's
// pipeline benchmark's peer. Prints one JSON line: {"ms": [...], "nodes_file": FILE}.
//
//   node optbench.js MODEL RUNS [LEVEL] [OUT_FILE]
'use strict';

const ort = require('onnxruntime-node');

async function main() {
  const [model, runsArg, level = 'basic', out = '/tmp/onnxslim-ort-opt.onnx'] = process.argv.slice(2);
  if (!model || !runsArg) {
    process.stderr.write('usage: node optbench.js MODEL RUNS [LEVEL] [OUT_FILE]\n');
    process.exit(2);
  }
  const ms = [];
  for (let i = 0; i < Number(runsArg); i++) {
    const t0 = process.hrtime.bigint();
    const s = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: level,
      optimizedModelFilePath: out,
      intraOpNumThreads: 1,
    });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await s.release();
  }
  process.stdout.write(JSON.stringify({ ms, out }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`optbench: ${e.message}\n`);
  process.exit(1);
});
