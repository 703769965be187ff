// TensorProto reader and writer shared by run.js and bench.js: a minimal
// hand-written protobuf codec, so the only dependency is onnxruntime-node.
'use strict';

const ort = require('onnxruntime-node');

// ONNX TensorProto.DataType ↔ ORT tensor type.
const ONNX_TO_ORT = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const ORT_TO_ONNX = Object.fromEntries(Object.entries(ONNX_TO_ORT).map(([k, v]) => [v, Number(k)]));
const TYPED_ARRAY = {
  float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array,
  int16: Int16Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array,
  float16: Uint16Array, float64: Float64Array, uint32: Uint32Array, uint64: BigUint64Array,
};

// ---- minimal protobuf reader ----

class Reader {
  constructor(buf) { this.buf = buf; this.pos = 0; }
  eof() { return this.pos >= this.buf.length; }
  varint() {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  }
  bytes() {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire) {
    switch (wire) {
      case 0: this.varint(); break;
      case 1: this.pos += 8; break;
      case 2: this.bytes(); break;
      case 5: this.pos += 4; break;
      default: throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

const asInt64 = (v) => BigInt.asIntN(64, v);

// readRepeated handles both packed (wire 2) and unpacked encodings of a scalar field.
function readRepeated(r, wire, out, scalar) {
  if (wire === 2) {
    const sub = new Reader(r.bytes());
    while (!sub.eof()) out.push(scalar(sub));
  } else {
    out.push(scalar(r));
  }
}

function fixed32f(r) {
  const v = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, 4).readFloatLE(0);
  r.pos += 4;
  return v;
}
function fixed64f(r) {
  const v = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, 8).readDoubleLE(0);
  r.pos += 8;
  return v;
}

function parseTensor(buf) {
  const t = { dims: [], dataType: 0, name: '', raw: null, floats: [], int32s: [], int64s: [], doubles: [], uint64s: [], strings: [] };
  const r = new Reader(buf);
  while (!r.eof()) {
    const key = Number(r.varint());
    const field = key >>> 3;
    const wire = key & 7;
    switch (field) {
      case 1: readRepeated(r, wire, t.dims, (s) => Number(asInt64(s.varint()))); break;
      case 2: t.dataType = Number(r.varint()); break;
      case 4: readRepeated(r, wire, t.floats, fixed32f); break;
      case 5: readRepeated(r, wire, t.int32s, (s) => Number(BigInt.asIntN(32, s.varint()))); break;
      case 6: t.strings.push(Buffer.from(r.bytes()).toString('utf8')); break;
      case 7: readRepeated(r, wire, t.int64s, (s) => asInt64(s.varint())); break;
      case 8: t.name = Buffer.from(r.bytes()).toString('utf8'); break;
      case 9: t.raw = r.bytes(); break;
      case 10: readRepeated(r, wire, t.doubles, fixed64f); break;
      case 11: readRepeated(r, wire, t.uint64s, (s) => s.varint()); break;
      default: r.skip(wire);
    }
  }
  return t;
}

function toOrtTensor(t) {
  const type = ONNX_TO_ORT[t.dataType];
  if (!type) throw new Error(`tensor ${t.name}: data type ${t.dataType} is not supported by this runner`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (type === 'string') return new ort.Tensor('string', t.strings, t.dims);
  const Arr = TYPED_ARRAY[type];
  let data;
  if (t.raw) {
    // Copy into an aligned buffer: raw_data may sit at any offset of the file.
    const copy = new Uint8Array(t.raw.length);
    copy.set(t.raw);
    data = new Arr(copy.buffer, 0, n);
  } else {
    data = new Arr(n);
    const src = { float32: t.floats, float64: t.doubles, int64: t.int64s, uint64: t.uint64s, uint32: t.uint64s }[type] || t.int32s;
    for (let i = 0; i < n; i++) data[i] = (type === 'uint32') ? Number(src[i]) : src[i];
  }
  if (type === 'bool') return new ort.Tensor('bool', data, t.dims);
  return new ort.Tensor(type, data, t.dims);
}

// ---- minimal protobuf writer ----

function varintBytes(v) {
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return Buffer.from(out);
}

function encodeTensor(name, tensor) {
  const parts = [];
  const dataType = ORT_TO_ONNX[tensor.type];
  if (dataType === undefined) throw new Error(`output ${name}: type ${tensor.type} is not supported by this runner`);
  for (const d of tensor.dims) parts.push(varintBytes(1 << 3), varintBytes(d));
  parts.push(varintBytes(2 << 3), varintBytes(dataType));
  if (tensor.type === 'string') {
    for (const s of tensor.data) {
      const b = Buffer.from(s, 'utf8');
      parts.push(varintBytes((6 << 3) | 2), varintBytes(b.length), b);
    }
  }
  const nb = Buffer.from(name, 'utf8');
  parts.push(varintBytes((8 << 3) | 2), varintBytes(nb.length), nb);
  if (tensor.type !== 'string') {
    const d = tensor.data;
    const raw = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    parts.push(varintBytes((9 << 3) | 2), varintBytes(raw.length), raw);
  }
  return Buffer.concat(parts);
}

module.exports = { parseTensor, toOrtTensor, encodeTensor };
