// Writes a tiny llama-architecture GGUF with random weights and a small
// SentencePiece-style vocabulary, for the real-llama.cpp test
// (tests/system/test_llm_llama.c). No package ships model weights; GGUF is
// a documented format (ggml's docs/gguf.md), so the test writes its own.
//
//   node make_model.mjs OUT.gguf [--embd 256] [--layers 4] [--ff 512] [--seed 1]
//
// Vocabulary: <unk> <s> </s>, the 256 byte-fallback tokens <0x00>..<0xFF>
// (ids 3..258: random weights pick them too, and alone they are invalid
// UTF-8, so the server bans them), then lower-case letters and common
// words with the SentencePiece word-start mark.
import { writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const out = args[0];
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i > 0 ? Number(args[i + 1]) : def;
};
const embd = opt("embd", 256), layers = opt("layers", 4), ff = opt("ff", 512);
const heads = 4;
let seed = opt("seed", 1) >>> 0;

const words = ("the of and to in is that it for was on are as with his they at be this from " +
  "have or by one had not but what all were when we there can an your which their said if do " +
  "will each about how up out them then she many some so these would other into has more her " +
  "two like him see time could no make than first been its who now people my made over did down " +
  "only way find use may water long little very after words called just where most know").split(" ");
const tokens = ["<unk>", "<s>", "</s>"], scores = [0, 0, 0], types = [2, 3, 3];
for (let b = 0; b < 256; b++) {
  tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  scores.push(0);
  types.push(6); // BYTE
}
const pieces = new Set();
for (const c of "abcdefghijklmnopqrstuvwxyz") pieces.add(c), pieces.add("\u2581" + c);
pieces.add("\u2581");
for (const w of words) pieces.add("\u2581" + w);
for (const p of pieces) {
  tokens.push(p);
  scores.push(-1000 + p.length); // longer pieces win
  types.push(1); // NORMAL
}
const vocab = tokens.length;

// ---- the file ----
const chunks = [];
let size = 0;
const push = (buf) => { chunks.push(buf); size += buf.length; };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); push(b); };
const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); push(b); };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); push(b); };
const f32 = (v) => { const b = Buffer.alloc(4); b.writeFloatLE(v); push(b); };
const str = (s) => { const b = Buffer.from(s, "utf8"); u64(b.length); push(b); };
const T = { U32: 4, I32: 5, F32: 6, STR: 8, ARR: 9 };

const kv = [];
const kvU32 = (k, v) => kv.push(() => { str(k); u32(T.U32); u32(v); });
const kvF32 = (k, v) => kv.push(() => { str(k); u32(T.F32); f32(v); });
const kvStr = (k, v) => kv.push(() => { str(k); u32(T.STR); str(v); });
const kvArr = (k, type, arr, w) => kv.push(() => { str(k); u32(T.ARR); u32(type); u64(arr.length); arr.forEach(w); });

kvStr("general.architecture", "llama");
kvStr("general.name", "ruckus-test-random");
kvU32("general.alignment", 32);
kvU32("llama.context_length", 4096);
kvU32("llama.embedding_length", embd);
kvU32("llama.block_count", layers);
kvU32("llama.feed_forward_length", ff);
kvU32("llama.attention.head_count", heads);
kvU32("llama.attention.head_count_kv", heads);
kvU32("llama.rope.dimension_count", embd / heads);
kvF32("llama.attention.layer_norm_rms_epsilon", 1e-5);
kvU32("llama.vocab_size", vocab);
kvStr("tokenizer.ggml.model", "llama");
kvArr("tokenizer.ggml.tokens", T.STR, tokens, str);
kvArr("tokenizer.ggml.scores", T.F32, scores, f32);
kvArr("tokenizer.ggml.token_type", T.I32, types, i32);
kvU32("tokenizer.ggml.bos_token_id", 1);
kvU32("tokenizer.ggml.eos_token_id", 2);
kvU32("tokenizer.ggml.unknown_token_id", 0);

// Tensors: name, dims (innermost first), and how to fill them.
const tensors = [];
const t = (name, dims, fill) => tensors.push({ name, dims, fill });
const rnd = () => { // xorshift32, then a rough normal of sd 0.05
  let s = 0;
  for (let i = 0; i < 4; i++) {
    seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
    s += seed / 4294967296;
  }
  return (s - 2) * 0.087;
};
t("token_embd.weight", [embd, vocab], rnd);
t("output_norm.weight", [embd], () => 1);
// The output projection's rows are token ids: zero for <unk>, <s> and
// </s> (logit 0 whatever the state), the rest spread wide (logits of sd
// about 5), so those three are all but never sampled: node-llama-cpp will
// not ban the end-of-stream token with a bias, and a random model would
// otherwise end requests at random.
t("output.weight", [embd, vocab], (i) => (Math.floor(i / embd) < 3 ? 0 : rnd() * 6));
for (let l = 0; l < layers; l++) {
  t(`blk.${l}.attn_norm.weight`, [embd], () => 1);
  for (const n of ["attn_q", "attn_k", "attn_v", "attn_output"]) t(`blk.${l}.${n}.weight`, [embd, embd], rnd);
  t(`blk.${l}.ffn_norm.weight`, [embd], () => 1);
  t(`blk.${l}.ffn_gate.weight`, [embd, ff], rnd);
  t(`blk.${l}.ffn_up.weight`, [embd, ff], rnd);
  t(`blk.${l}.ffn_down.weight`, [ff, embd], rnd);
}

push(Buffer.from("GGUF"));
u32(3);
u64(tensors.length);
u64(kv.length);
kv.forEach((w) => w());
let offset = 0;
for (const x of tensors) {
  x.count = x.dims.reduce((a, b) => a * b, 1);
  x.offset = offset;
  offset += Math.ceil((x.count * 4) / 32) * 32;
  str(x.name);
  u32(x.dims.length);
  x.dims.forEach(u64);
  u32(0); // F32
  u64(x.offset);
}
push(Buffer.alloc((32 - (size % 32)) % 32));
for (const x of tensors) {
  const b = Buffer.alloc(Math.ceil((x.count * 4) / 32) * 32);
  for (let i = 0; i < x.count; i++) b.writeFloatLE(x.fill(i), i * 4);
  push(b);
}
writeFileSync(out, Buffer.concat(chunks));
console.log(`${out}: ${vocab} tokens, ${layers} layers of ${embd}, ${(size / 1048576).toFixed(1)} MiB`);
