/**
 * Schema-driven fuzzing of the real API (fast-check): for every operation in the OpenAPI document,
 * arbitrary and schema-violating path parameters, query strings and bodies (JSON and not, huge,
 * deeply nested, wrong types, unicode, prototype-pollution keys), with valid, invalid and missing
 * tokens. Whatever arrives, the API must answer: never a 5xx, never a hang, every 4xx in the error
 * format, every answer as the document declares it.
 *
 * Reproduce a failure with the seed it prints: FUZZ_SEED=<seed> npx mocha test/api.fuzz.test.ts
 * (FUZZ_RUNS=<n> for more runs per operation).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import fc from 'fast-check';
import { openApiDocument } from '../api/openapi';
import type { RequestView } from '../shared/request';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { documentedOperations, expectDeclaredPage, expectMatchesOpenApi } from './support/openapi';

const SEED = Number(process.env.FUZZ_SEED ?? 90_210);
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 30);
/** An answer slower than this is a hang. */
const ANSWER_TIMEOUT_MS = 10_000;

const CAROL = 'carol@example.com'; // requester of the request the fuzzer pokes at
const BOB = 'bob@example.com'; // approver
const SEC = 'sec@example.com'; // admin

interface Schema {
  type?: string;
  enum?: readonly unknown[];
  format?: string;
  example?: unknown;
  properties?: Record<string, Schema>;
  required?: readonly string[];
}
interface Parameter {
  name: string;
  in: string;
  schema: Schema;
}
interface OperationObject {
  parameters?: readonly Parameter[];
  requestBody?: { content: Record<string, { schema: Schema; example?: Record<string, unknown> }> };
}

/** One generated call. */
interface FuzzCall {
  pathValues: string[];
  query: string;
  body?: { bytes: Buffer; contentType?: string; contentEncoding?: string };
  authorization?: string;
}

describe('API fuzz (fast-check, schema-driven)', function () {
  this.timeout(240_000);
  let h: Harness;
  let tokens: string[];
  let existingId: string;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  /** Every status seen, `<status> <code>`: the generators must reach the interesting answers, not just 401s. */
  const seen = new Map<string, number>();

  before(async () => {
    // The fuzzer sends far more than a person would: the rate limit is tested in operability.test.ts.
    h = await Harness.start(BASE_TEST_CONFIG, { rateLimitPerMinute: 1_000_000 });
    tokens = [await h.token(CAROL), await h.token(BOB), await h.token(SEC)];
    // A real request, so generated ids sometimes name one that exists (its actions then reach the workflow).
    const created = await h.call<{ request: RequestView }>(CAROL, 'POST', '/v1/requests', { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'fuzz target', duration: '30m' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    existingId = created.body.request.id;
  });
  after(async () => {
    agent.destroy();
    await h?.stop();
  });

  const operations = documentedOperations();

  it('covers every operation of the document', () => {
    assert.ok(operations.length >= 15, `only ${operations.length} operations`);
  });

  operations.forEach(({ method, template }, index) => {
    it(`${method.toUpperCase()} ${template}: no 5xx, no hang, errors in the error format, answers as documented`, async () => {
      const operation = (openApiDocument.paths as unknown as Record<string, Record<string, OperationObject>>)[template]![method]!;
      const seed = SEED + index;
      const property = fc.asyncProperty(callArbitrary(template, operation, () => tokens, () => existingId), async (call) => {
        const route = routeFor(template, call);
        const answer = await send(h.apiUrl, agent, method, route, call);
        const code = answer.status >= 400 && /^application\/json/.test(answer.contentType) ? ` ${(JSON.parse(answer.text) as { error?: { code?: string } }).error?.code}` : '';
        checkAnswer(method, route, answer);
        seen.set(`${answer.status}${code}`, (seen.get(`${answer.status}${code}`) ?? 0) + 1);
      });
      try {
        await fc.assert(property, { seed, numRuns: RUNS_PER_OPERATION });
      } catch (error) {
        // fast-check's message has the counterexample and the path; make the seed impossible to miss.
        throw new Error(`fuzz failure (FUZZ_SEED=${SEED}, this operation's seed ${seed}):\n${(error as Error).message}`, { cause: error });
      }
    });
  });

  it('reached every kind of answer (the generators are not stuck at the door)', () => {
    const summary = [...seen].sort().map(([key, count]) => `${key}: ${count}`).join(', ');
    for (const expected of ['200', '201', '400 bad_request', '401 unauthenticated', '404 not_found', '413 payload_too_large', '414 uri_too_long', '431 headers_too_large']) {
      assert.ok(seen.has(expected), `never saw ${expected}; saw ${summary}`);
    }
    if (process.env.FUZZ_SUMMARY) console.log(`      statuses: ${summary}`);
  });

  it('leaves the server alive, ready and unpolluted afterwards', async () => {
    const health = await send(h.apiUrl, agent, 'get', '/healthz', { pathValues: [], query: '' });
    assert.equal(health.status, 200);
    const ready = await send(h.apiUrl, agent, 'get', '/readyz', { pathValues: [], query: '' });
    assert.equal(ready.status, 200, ready.text);
    // The API runs in this process: a prototype-pollution bug would show here.
    const probe = {} as Record<string, unknown>;
    for (const key of ['polluted', 'admin', 'isAdmin', 'email']) assert.equal(probe[key], undefined, `Object.prototype.${key} was set`);
    // The fuzzed request is still what it was made as (no field of it rewritten by a fuzzed body).
    const view = await h.call<{ request: RequestView }>(CAROL, 'GET', `/v1/requests/${existingId}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.request.requester, CAROL);
    assert.equal(view.body.request.target, 'AdminRole');
  });
});

// ---------------------------------------------------------------------------------------------
// What is sent

function callArbitrary(template: string, operation: OperationObject, tokens: () => string[], existingId: () => string): fc.Arbitrary<FuzzCall> {
  const pathParameterCount = (template.match(/\{[^}]+\}/g) ?? []).length;
  const queryParameters = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query');
  const bodySchema = operation.requestBody?.content['application/json']?.schema;
  const bodyExample = operation.requestBody?.content['application/json']?.example;
  return fc.record(
    {
      pathValues: fc.array(pathValue(existingId), { minLength: pathParameterCount, maxLength: pathParameterCount }),
      query: queryString(queryParameters),
      body: requestBody(bodySchema, bodyExample),
      authorization: authorization(tokens),
    },
    { requiredKeys: ['pathValues', 'query'] },
  );
}

/** Path parameters, already as they appear in the URL (encoded, or deliberately malformed). */
function pathValue(existingId: () => string): fc.Arbitrary<string> {
  const encoded = (value: fc.Arbitrary<string>) => value.map((text) => encodeURIComponent(text));
  return fc.oneof(
    fc.constant('').map(() => existingId()),
    fc.ulid().map((ulid) => `req_${ulid}`),
    encoded(fc.string()),
    encoded(fc.string({ unit: 'grapheme', maxLength: 40 })),
    encoded(fc.string({ unit: 'binary', maxLength: 40 })),
    encoded(fc.constantFrom('__proto__', 'constructor', 'prototype', 'null', 'undefined', 'NaN', '0', '-1', 'req_', 'REQ_01ARZ3NDEKTSV4RRFFQ69G5FAV', '😀', '\u0000', 'a/b', '..%2F..', '<script>')),
    fc.constantFrom('%', '%E0%A4%A', '%zz', '%C0%AF', '%00', '..%2F', '%2e%2e%2f'),
    // Long, and longer than the server takes (414 past 4 KB of URL; 431 past Node's 16 KB of headers).
    fc.integer({ min: 100, max: 20_000 }).map((length) => `req_${'A'.repeat(length)}`),
  ).filter((value) => value.length > 0 && !/^(\.|%2e){1,2}$/i.test(value));
}

function queryString(parameters: readonly Parameter[]): fc.Arbitrary<string> {
  const names = parameters.map((parameter) => parameter.name);
  const value = (schema: Schema): fc.Arbitrary<string> =>
    fc.oneof(
      schema.enum ? fc.constantFrom(...schema.enum.map(String)) : fc.constant('x'),
      schema.type === 'boolean' ? fc.constantFrom('true', 'false', '1', '0', 'TRUE', 'yes', '') : fc.string(),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.integer({ min: 1, max: 6_000 }).map((length) => 'q'.repeat(length)),
    );
  const known = parameters.map((parameter) => fc.tuple(fc.constant(parameter.name), value(parameter.schema)));
  const unknown = fc.tuple(
    fc.oneof(fc.constantFrom('__proto__', 'constructor', '__proto__[admin]', 'status[]', 'mine[x]', 'toString', 'hasOwnProperty'), fc.string({ minLength: 1, maxLength: 12 })),
    fc.string({ maxLength: 20 }),
  );
  const pair = known.length > 0 ? fc.oneof(...known, ...known, unknown) : unknown;
  return fc.oneof(
    fc.constant(''),
    fc.array(pair, { maxLength: 5 }).map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([key, text]) => `${encodeURIComponent(key)}=${encodeURIComponent(text)}`).join('&')}`)),
    // Repeated parameters, and raw (unencoded, malformed) query text.
    fc.constantFrom(...names.map((name) => `?${name}=true&${name}=false`), '?', '?&&&', '?=', '?%', '?status=%E0%A4%A', '?mine=%00'),
  );
}

function requestBody(schema: Schema | undefined, example: Record<string, unknown> | undefined): fc.Arbitrary<{ bytes: Buffer; contentType?: string; contentEncoding?: string }> {
  const jsonText: fc.Arbitrary<string> = fc.oneof(
    // The document's own example, one field changed: far more of these get past validation into the workflow.
    { weight: example && schema ? 8 : 0, arbitrary: example && schema ? nearExample(example, schema).map((value) => JSON.stringify(value)) : fc.constant('{}') },
    { weight: 3, arbitrary: (schema ? valid(schema) : fc.constant({})).map((value) => JSON.stringify(value)) },
    { weight: 3, arbitrary: schema ? violating(schema).map((value) => JSON.stringify(value) ?? 'null') : fc.json() },
    { weight: 2, arbitrary: pollution(schema) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        'null',
        'true',
        '0',
        '"text"',
        '[]',
        '{',
        '{"provider": "aws", "kind": ',
        '1e999',
        '{"comment": 1e999}',
        '{"a":1,"a":2}',
        '\ufeff{}',
        JSON.stringify({ comment: '\u{1F600}'.repeat(5_000), reason: '\u202E\u0000\uFFFF' }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `${'['.repeat(20_000)}${']'.repeat(20_000)}`, // deep, and under 64 KB
        `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
        `{"comment":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        JSON.stringify({ comment: 'x'.repeat(60_000) }), // big, and allowed
        JSON.stringify({ provider: 'aws', reason: 'x'.repeat(70_000) }), // over 64 KB: 413
        JSON.stringify({ duration: '1h', comment: '\u00e9'.repeat(40_000) }), // 40,000 characters, 80 KB of UTF-8: 413
      ),
    },
  );
  const bytes = fc.oneof(
    { weight: 6, arbitrary: jsonText.map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((array) => Buffer.from(array)) },
    { weight: 1, arbitrary: fc.constant(Buffer.from([0xff, 0xfe, 0x7b, 0x7d, 0xc3, 0x28])) },
  );
  const contentType = fc.option(
    fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'application/json; charset=utf-16',
          'application/merge-patch+json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
          ';;;',
          'application/json; charset=',
        ),
      },
    ),
    { freq: 8 },
  );
  // Mostly none: a declared encoding the body does not have is one case among many, not the usual one.
  const contentEncoding = fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'compress-9000') });
  return fc.record({ bytes, contentType, contentEncoding }).map(({ bytes: body, contentType: type, contentEncoding: encoding }) => ({
    bytes: body,
    ...(type === null ? {} : { contentType: type }),
    ...(encoding === null ? {} : { contentEncoding: encoding }),
  }));
}

/** Values the schema allows (strings from examples or anything; the declared types). */
function valid(schema: Schema): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => date.toISOString());
      return fc.oneof(schema.example === undefined ? fc.string() : fc.constant(schema.example as string), fc.string(), fc.constantFrom('1s', '15m', '2h', '1d', '0s', '-1h', '99999999999d'));
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer();
    case 'object': {
      const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, property]) => [key, valid(property)]));
      return fc.record(properties, { requiredKeys: [...(schema.required ?? [])] });
    }
    default:
      return fc.anything();
  }
}

/** The example, or the example with one field given another allowed value, a forbidden one, or removed. */
function nearExample(example: Record<string, unknown>, schema: Schema): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema.properties ?? {});
  if (keys.length === 0) return fc.constant(example);
  return fc.oneof(
    fc.constant(example),
    fc.constantFrom(...keys).chain((key) => valid(schema.properties![key]!).map((value) => ({ ...example, [key]: value }))),
    fc.tuple(fc.constantFrom(...keys), fc.anything({ maxDepth: 2 })).map(([key, value]) => ({ ...example, [key]: value })),
    fc.constantFrom(...Object.keys(example)).map((key) => Object.fromEntries(Object.entries(example).filter(([candidate]) => candidate !== key))),
  );
}

/** Values the schema forbids: wrong types, missing required fields, unknown fields, not an object at all. */
function violating(schema: Schema): fc.Arbitrary<unknown> {
  const wrong = fc.oneof(fc.constant(null), fc.integer(), fc.double(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), fc.string({ unit: 'grapheme' }));
  const keys = Object.keys(schema.properties ?? {});
  return fc.oneof(
    keys.length > 0
      ? fc.tuple(valid(schema), fc.constantFrom(...keys), wrong).map(([value, key, bad]) => ({ ...(value as object), [key]: bad }))
      : fc.constant({ x: 1 }),
    valid(schema).map((value) => {
      const copy = { ...(value as Record<string, unknown>) };
      for (const key of schema.required ?? []) delete copy[key];
      return copy;
    }),
    fc.tuple(valid(schema), fc.string({ minLength: 1, maxLength: 10 }), fc.anything({ maxDepth: 2 })).map(([value, key, extra]) => ({ ...(value as object), [`x-${key}`]: extra })),
    fc.anything({ maxDepth: 3 }),
  );
}

/** JSON text with `__proto__` / `constructor` keys (written as text: an object literal would not keep them). */
function pollution(schema: Schema | undefined): fc.Arbitrary<string> {
  const payload = '{"polluted":true,"admin":true,"isAdmin":true,"email":"sec@example.com"}';
  return fc.tuple(schema ? valid(schema) : fc.constant({}), fc.constantFrom('__proto__', 'constructor', 'prototype')).map(([value, key]) => {
    const text = JSON.stringify(value);
    const inner = key === 'constructor' ? `{"prototype":${payload}}` : payload;
    return text.length > 2 ? `{"${key}":${inner},${text.slice(1)}` : `{"${key}":${inner}}`;
  });
}

function authorization(tokens: () => string[]): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 2 }).map((index) => `Bearer ${tokens()[index]}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'bearer garbage', 'Bearer p0_not-a-real-token', 'Basic Ym9iOmh1bnRlcjI=', 'Token abc', 'Bearer a b', `Bearer ${'t'.repeat(8_000)}`),
        fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((text) => `Bearer ${text}`),
        // Header values are Latin-1 on the wire: send UTF-8 bytes as Latin-1 characters.
        fc.string({ unit: 'grapheme', maxLength: 20 }).map((text) => `Bearer ${Buffer.from(text).toString('latin1')}`),
      ),
    },
  );
}

function routeFor(template: string, call: FuzzCall): string {
  let index = 0;
  return template.replace(/\{[^}]+\}/g, () => call.pathValues[index++]!) + call.query;
}

// ---------------------------------------------------------------------------------------------
// Sending, raw: any method may carry a body, and the path goes out exactly as generated

interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

function send(baseUrl: string, agent: http.Agent, method: string, route: string, call: FuzzCall): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const headers: Record<string, string | number> = {};
  // Node refuses to send some header values (control characters): such a call is simply sent without the header.
  if (call.authorization !== undefined && !/[^\t\x20-\x7e\x80-\xff]/.test(call.authorization)) headers.authorization = call.authorization;
  if (call.body) {
    if (call.body.contentType) headers['content-type'] = call.body.contentType;
    if (call.body.contentEncoding) headers['content-encoding'] = call.body.contentEncoding;
    headers['content-length'] = call.body.bytes.length;
  }
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, method: method.toUpperCase(), path: route, headers, agent }, (response) => {
      // An event stream never ends: its status and headers are the answer.
      if (/^text\/event-stream/.test(response.headers['content-type'] ?? '')) {
        resolve({ status: response.statusCode!, contentType: response.headers['content-type']!, text: '' });
        response.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, contentType: response.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.setTimeout(ANSWER_TIMEOUT_MS, () => request.destroy(new Error(`no answer to ${method.toUpperCase()} ${route.slice(0, 100)} in ${ANSWER_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(call.body?.bytes);
  });
}

function checkAnswer(method: string, route: string, answer: RawAnswer): void {
  const what = `${method.toUpperCase()} ${route.length > 120 ? `${route.slice(0, 120)}... (${route.length} chars)` : route} -> ${answer.status}`;
  assert.ok(answer.status < 500, `${what}: a server error: ${answer.text.slice(0, 500)}`);
  if (route.startsWith('/metrics') && answer.status === 200) {
    assert.match(answer.contentType, /^text\/plain/);
    return;
  }
  // Pages and their redirects, CSV downloads, event streams: declared, and never a stack trace.
  if (/^text\/(?:html|csv|event-stream)/.test(answer.contentType) || (answer.status >= 300 && answer.status < 400)) {
    expectDeclaredPage(method, route, answer.status, answer.contentType);
    assert.doesNotMatch(answer.text, /\n\s*at\s|\(\S+:\d+:\d+\)/, `${what}: a stack trace in the page`);
    return;
  }
  assert.match(answer.contentType, /^application\/json/, `${what}: not JSON (${answer.contentType}): ${answer.text.slice(0, 200)}`);
  const body = JSON.parse(answer.text) as unknown;
  if (answer.status >= 400) {
    const { error } = body as { error?: { code?: unknown; message?: unknown } };
    assert.ok(error && typeof error.code === 'string' && typeof error.message === 'string', `${what}: not {error: {code, message}}: ${answer.text.slice(0, 300)}`);
    assert.doesNotMatch(error.message, /\n\s*at\s|\(\S+:\d+:\d+\)/, `${what}: a stack trace in the message`);
  }
  expectMatchesOpenApi(method, route, answer.status, body);
}
