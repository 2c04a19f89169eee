// Checks answers of the daemons against their OpenAPI documents: the body
// is validated (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses) against the
// schema the document gives for the operation and status code, and every
// field sent must be declared there. Used by openapi-live.test.mjs.

import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

// check(method, url, status, body) against the document doc (its ajv id:
// id); throws an AssertionError saying what differs.
export function checker(doc, id) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, id);
  const resolve = (ref) => ref.slice(2).split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((o, k) => o?.[k], doc);
  const deref = (s) => (s && s.$ref ? deref(resolve(s.$ref)) : s);

  // The operation of method + concrete path: [template, operation].
  function operation(method, url) {
    const segs = url.split('?')[0].replace(/\/$/, '').split('/');
    let best = null;
    for (const [tpl, item] of Object.entries(doc.paths)) {
      const t = tpl.split('/');
      if (t.length !== segs.length || !item[method]) continue;
      if (!t.every((x, i) => x === segs[i] || /^\{.+\}$/.test(x))) continue;
      const literals = t.filter((x) => !x.startsWith('{')).length;
      if (!best || literals > best.literals) best = { tpl, op: item[method], literals };
    }
    return best;
  }

  // Fields of body that schema s does not declare (where it declares any
  // and does not say what else is allowed), as "a.b.c" paths.
  function undeclared(s, body, at, out) {
    s = deref(s);
    if (!s || body === null || typeof body !== 'object') return out;
    if (Array.isArray(body)) {
      if (s.items) body.forEach((v, i) => undeclared(s.items, v, `${at}[${i}]`, out));
      return out;
    }
    const parts = [s, ...(s.allOf || []).map(deref)];
    const props = Object.assign({}, ...parts.map((p) => p.properties || {}));
    const extra = parts.map((p) => p.additionalProperties).find((a) => a !== undefined);
    for (const [k, v] of Object.entries(body)) {
      if (props[k]) undeclared(props[k], v, `${at}.${k}`, out);
      else if (extra && typeof extra === 'object') undeclared(extra, v, `${at}.${k}`, out);
      else if (Object.keys(props).length && extra === undefined) out.push(`${at}.${k}`);
    }
    return out;
  }

  return function check(method, url, status, body) {
    const found = operation(method.toLowerCase(), url);
    assert.ok(found, `${method} ${url} is in ${id}`);
    const resp = deref(found.op.responses[String(status)]);
    assert.ok(resp, `${method} ${found.tpl} documents status ${status}`);
    const media = resp.content?.['application/json'];
    if (!media) return;
    const ptr = `${id}#/paths/${esc(found.tpl)}/${method.toLowerCase()}/responses/${status}`;
    const schemaPtr = found.op.responses[String(status)].$ref
      ? `${id}${found.op.responses[String(status)].$ref}/content/application~1json/schema`
      : `${ptr}/content/application~1json/schema`;
    const validate = ajv.getSchema(schemaPtr) || ajv.compile({ $ref: schemaPtr });
    assert.ok(validate(body), `${method} ${url} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 600)}`);
    assert.deepEqual(undeclared(media.schema, body, '', []), [], `${method} ${url} ${status}: fields the document does not declare`);
  };
}
