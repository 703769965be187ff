#!/usr/bin/env node
// Times ONNX Runtime (CPU) runs of one model for `make bench`, which
// interleaves them with interpreter runs. The session is created once; then
// each line read from stdin, a run count N, times N runs on the inputs and
// prints one JSON line {"ms": [...]} (per-run wall time).
//
//   node bench.js MODEL INPUT_DIR THREADS
//
// Prints {"ready": true} once the session is loaded and warmed up.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const ort = require('onnxruntime-node');
const { parseTensor, toOrtTensor } = require('./tensorproto');

async function main() {
  const [model, inDir, threadsArg] = process.argv.slice(2);
  if (!model || !inDir || !threadsArg) {
    process.stderr.write('usage: node bench.js MODEL INPUT_DIR THREADS\n');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Number(threadsArg),
    interOpNumThreads: 1,
    logSeverityLevel: 3, // errors only: IR 4 exports warn once per initializer-input
  });
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    feeds[name] = toOrtTensor(parseTensor(fs.readFileSync(path.join(inDir, `input_${i}.pb`))));
  });
  await session.run(feeds); // warm-up
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const n = Number(line.trim());
    if (!(n > 0)) break;
    const ms = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    process.stdout.write(JSON.stringify({ ms }) + '\n');
  }
  await session.release();
}

main().catch((e) => {
  process.stderr.write(`bench.js: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
