// A small OpenAI-compatible streaming server on node-llama-cpp (llama.cpp
// prebuilt for the CPU), for the real-llama.cpp test
// (tests/system/test_llm_llama.c): POST /v1/completions and
// /v1/chat/completions stream SSE chunks with `stream_options.include_usage`
// honoured; GET /health answers 200 once the model is loaded.
//
//   node server.mjs --model M.gguf --port N [--threads T] [--parallel P]
//       [--ban-byte-tokens]
//
// --parallel P: P context sequences decoded as one batch (node-llama-cpp
// batches the sequences of one context), so P requests run at once; more
// wait for a free sequence. --ban-byte-tokens: never sample llama's
// byte-fallback tokens <0x00>..<0xFF> (a random-weight model picks them,
// and alone they are invalid UTF-8), as a client would with logit_bias; a
// request's own `logit_bias` ({id: -100}) bans its ids too. A request ends
// at max_tokens or at the model's end-of-stream token (make_model.mjs's
// model all but never picks it, so every request makes max_tokens).
import http from "node:http";
import { getLlama, TokenBias } from "node-llama-cpp";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const modelPath = opt("model");
const port = Number(opt("port", 8000));
const threads = Number(opt("threads", 2));
const parallel = Number(opt("parallel", 4));
const banBytes = args.includes("--ban-byte-tokens");

const llama = await getLlama({ gpu: false, build: "never", logLevel: "warn" });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ sequences: parallel, contextSize: 512 * parallel, threads });
const free = [];
for (let i = 0; i < parallel; i++) free.push(context.getSequence());
const waiting = [];
const acquire = () => new Promise((resolve) => (free.length ? resolve(free.pop()) : waiting.push(resolve)));
const release = (seq) => (waiting.length ? waiting.shift()(seq) : free.push(seq));

// make_model.mjs puts the byte-fallback tokens at ids 3..258.
const byteTokens = [];
for (let id = 3; id < 259; id++) byteTokens.push(id);

function bias(body) {
  const b = new TokenBias(model.tokenizer);
  if (banBytes) for (const id of byteTokens) b.set(id, "never");
  // <unk> and <s> are never an answer. node-llama-cpp does not bias the
  // end-of-stream token (a set() of it is dropped), so ignore_eos is only
  // as good as the model: make_model.mjs's never picks it.
  for (const id of [0, 1]) b.set(id, "never");
  for (const [id, v] of Object.entries(body.logit_bias ?? {})) if (Number(v) <= -100) b.set(Number(id), "never");
  return b;
}

async function complete(req, res, chat, body) {
  const prompt = chat ? (body.messages ?? []).map((m) => `${m.role}: ${m.content}`).join("\n") + "\nassistant:" : String(body.prompt ?? "");
  const maxTokens = Number(body.max_tokens ?? 16);
  const seq = await acquire();
  const id = `cmpl-${Date.now()}`;
  const chunk = (payload) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
  const choice = (text, finish) =>
    chat ? { index: 0, delta: { content: text }, finish_reason: finish } : { index: 0, text, finish_reason: finish };
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  if (chat) chunk({ id, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
  let completion = 0;
  try {
    // Token by token, so the count is exact; evaluate() itself ends at an
    // end-of-stream token.
    const promptTokens = model.tokenize(prompt);
    let last = [];
    const options = { temperature: Number(body.temperature ?? 0.8), tokenBias: bias(body) };
    if (body.seed != null) options.seed = Number(body.seed);
    for await (const token of seq.evaluate(promptTokens, options)) {
      const text = model.detokenize([token], false, last);
      last = [token];
      completion++;
      if (text) chunk({ id, object: chat ? "chat.completion.chunk" : "text_completion", choices: [choice(text, null)] });
      if (completion >= maxTokens) break;
    }
    chunk({ id, choices: [choice("", completion >= maxTokens ? "length" : "stop")] });
    if (body.stream_options?.include_usage)
      chunk({ id, choices: [], usage: { prompt_tokens: promptTokens.length, completion_tokens: completion, total_tokens: promptTokens.length + completion } });
    res.write("data: [DONE]\n\n");
  } catch (e) {
    chunk({ error: { message: String(e?.message ?? e), type: "server_error" } });
  } finally {
    await seq.clearHistory();
    release(seq);
    res.end();
  }
}

http
  .createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health") return res.writeHead(200).end("ok");
    const chat = req.url === "/v1/chat/completions";
    if (req.method !== "POST" || !(chat || req.url === "/v1/completions")) return res.writeHead(404).end();
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      let body;
      try {
        body = JSON.parse(data);
      } catch {
        return res.writeHead(400).end('{"error":{"message":"not JSON"}}');
      }
      complete(req, res, chat, body);
    });
  })
  .listen(port, "127.0.0.1", () => console.error(`llama server: listening on ${port}, ${parallel} sequences, ${threads} threads`));
