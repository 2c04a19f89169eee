// The OpenAPI documents (docs/openapi/*.json, served as GET
// /api/v1/openapi.json by both daemons) checked by a validator made for
// OpenAPI 3.1 (@seriousme/openapi-schema-validator, a devDependency), and
// every $ref resolved. Broken copies prove the check can fail. The route
// drift test is in C (tests/server/test_openapi.c, tests/agent/...).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './harness.mjs';

const { Validator } = await import('@seriousme/openapi-schema-validator').catch(() => {
  throw new Error('@seriousme/openapi-schema-validator missing: run npm ci');
});

const DOCS = ['server.json', 'agent.json'].map((f) => path.join(ROOT, 'docs/openapi', f));

// Every "$ref" in doc that does not point at something in doc.
function danglingRefs(doc) {
  const bad = [];
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    if (typeof v.$ref === 'string') {
      let target = doc;
      if (!v.$ref.startsWith('#/')) bad.push(v.$ref);
      else for (const key of v.$ref.slice(2).split('/')) target = target?.[key.replace(/~1/g, '/').replace(/~0/g, '~')];
      if (target === undefined) bad.push(v.$ref);
    }
    Object.values(v).forEach(walk);
  };
  walk(doc);
  return bad;
}

// Validates a parsed document; resolves with the list of problems.
async function problems(doc) {
  const v = new Validator();
  const res = await v.validate(structuredClone(doc));
  const out = [];
  if (!res.valid) out.push(...(res.errors || ['invalid']).map((e) => JSON.stringify(e)));
  else if (v.version !== '3.1') out.push(`OpenAPI version ${v.version}, expected 3.1`);
  out.push(...danglingRefs(doc).map((r) => `dangling $ref ${r}`));
  if (out.length === 0) v.resolveRefs(); // throws on a reference it cannot follow
  return out;
}

const load = (file) => JSON.parse(readFileSync(file, 'utf8'));

describe('OpenAPI documents', () => {
  it('the validator knows OpenAPI 3.1', () => {
    assert.ok(Validator.supportedVersions.has('3.1'));
  });

  for (const file of DOCS) {
    it(`${path.basename(file)} is a valid OpenAPI 3.1 document`, async () => {
      const doc = load(file);
      assert.equal(doc.openapi, '3.1.0');
      assert.deepEqual(await problems(doc), []);
      // Every operation has an id (client generators name methods by it),
      // unique in the document, and every error answer is {"detail"}.
      const ids = new Set();
      for (const [p, item] of Object.entries(doc.paths)) {
        for (const [m, op] of Object.entries(item)) {
          assert.ok(op.operationId, `${m} ${p} has an operationId`);
          assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} is unique`);
          ids.add(op.operationId);
          for (const [code, r] of Object.entries(op.responses)) {
            if (Number(code) >= 400) assert.match(r.$ref || '', /^#\/components\/responses\//, `${m} ${p} ${code}`);
          }
        }
      }
      const err = doc.components.schemas.Error;
      assert.deepEqual(err.required, ['detail']);
    });
  }

  it('rejects broken copies', async () => {
    const base = load(DOCS[0]);
    const breakers = {
      'an empty responses object': (d) => { d.paths['/api/v1/jobs'].get.responses = {}; },
      'an answer without description': (d) => delete d.paths['/api/v1/jobs'].get.responses['200'].description,
      'a path parameter that is not required': (d) => { d.paths['/api/v1/jobs/{job_id}'].get.parameters[0].required = false; },
      'a path that does not start with /': (d) => { d.paths['api/v1/nope'] = d.paths['/api/v1/jobs']; },
      'info without a title': (d) => delete d.info.title,
      'a parameter without "in"': (d) => delete d.paths['/api/v1/jobs/{job_id}'].get.parameters[0].in,
      'a $ref to a schema that does not exist': (d) => { d.paths['/api/v1/jobs'].post.responses['201'].content['application/json'].schema.$ref = '#/components/schemas/Nope'; },
      'a status code that is not one': (d) => { d.paths['/api/v1/jobs'].get.responses['2000'] = { description: 'x' }; },
    };
    for (const [what, breakIt] of Object.entries(breakers)) {
      const doc = structuredClone(base);
      breakIt(doc);
      const p = await problems(doc).catch((e) => [String(e)]);
      assert.ok(p.length > 0, `${what} is rejected`);
    }
  });
});
