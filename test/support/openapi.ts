/**
 * Holds API answers to the OpenAPI document (api/openapi.ts), so the document stays true and
 * complete: a route may answer only the statuses it declares, each body must match the schema
 * declared for its status, and an error's `code` must be the one that status stands for.
 */
import assert from 'node:assert/strict';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiDocument } from '../../api/openapi';
import { AppError } from '../../service/errors';
import type { ErrorCode } from '../../shared/errors';
import type { ApiAnswer, Harness } from './harness';

/** The document is added to Ajv whole, under this id, so its `#/components/schemas/...` refs resolve as written. */
const DOCUMENT_ID = 'https://p0-jit.invalid/v1/openapi.json';
const ERROR_SCHEMA_POINTER = '/components/schemas/Error';

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
}
interface Operation {
  responses: Record<string, ResponseObject>;
}
type PathItem = Record<string, Operation>;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const paths = openApiDocument.paths as unknown as Record<string, PathItem>;

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
// Ajv compiles the document's root on the way to a fragment; OpenAPI's own top-level fields are
// just annotations to it (strict mode would otherwise refuse them as unknown keywords).
ajv.addVocabulary(Object.keys(openApiDocument));
ajv.addSchema({ ...openApiDocument, $id: DOCUMENT_ID });

const validators = new Map<string, ValidateFunction>();

/** The compiled schema at a JSON pointer (already ~-escaped) into the document, compiled once. */
function validatorAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    const fragment = pointer
      .split('/')
      .map((segment) => encodeURIComponent(segment))
      .join('/');
    validate = ajv.getSchema(`${DOCUMENT_ID}#${fragment}`);
    assert.ok(validate, `the OpenAPI document has no schema at #${pointer}`);
    validators.set(pointer, validate);
  }
  return validate;
}

function pointerOf(...segments: string[]): string {
  return segments.map((segment) => `/${segment.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

interface TemplateMatcher {
  template: string;
  pattern: RegExp;
  parameterCount: number;
}

/** Literal paths before templated ones, so `/v1/openapi.json` never matches a `{param}`. */
const templates: TemplateMatcher[] = Object.keys(paths)
  .map((template) => {
    const segments = template.split('/');
    const parameterCount = segments.filter((segment) => /^\{[^}]+\}$/.test(segment)).length;
    const source = segments.map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    return { template, pattern: new RegExp(`^${source}$`), parameterCount };
  })
  .sort((a, b) => a.parameterCount - b.parameterCount);

/** Every operation the document declares, e.g. `{ method: 'post', template: '/v1/requests/{id}/approve' }`. */
export function documentedOperations(): { method: string; template: string; statuses: string[] }[] {
  return Object.entries(paths).flatMap(([template, item]) =>
    HTTP_METHODS.filter((method) => item[method]).map((method) => ({ method, template, statuses: Object.keys(item[method]!.responses) })),
  );
}

/** The document's path template for a concrete route (query string ignored), if it declares the operation. */
export function findOperation(method: string, route: string): { template: string; operation: Operation } | undefined {
  // Express routes are not strict: `/healthz/` is `/healthz`.
  const path = route.split('?')[0]!.replace(/(.)\/$/, '$1');
  const lowerMethod = method.toLowerCase();
  for (const { template, pattern } of templates) {
    const operation = paths[template]![lowerMethod];
    if (operation && pattern.test(path)) return { template, operation };
  }
  return undefined;
}

/** Compiles every response schema the document declares (a broken `$ref` fails here, not in some later test). */
export function compileAllResponseSchemas(): number {
  let compiled = 0;
  for (const { method, template, statuses } of documentedOperations()) {
    for (const status of statuses) {
      if (!paths[template]![method]!.responses[status]!.content?.['application/json']) continue;
      validatorAt(pointerOf('paths', template, method, 'responses', status, 'content', 'application/json', 'schema'));
      compiled += 1;
    }
  }
  return compiled;
}

function assertValid(validate: ValidateFunction, body: unknown, what: string): void {
  if (validate(body)) return;
  assert.fail(`${what} does not match the OpenAPI document: ${ajv.errorsText(validate.errors, { dataVar: 'body' })}\nbody: ${JSON.stringify(body)}`);
}

function assertErrorCodeFitsStatus(status: number, body: unknown, what: string): void {
  const code = (body as { error: { code: ErrorCode } }).error.code;
  assert.equal(new AppError(code, '').status, status, `${what}: error code "${code}" belongs to another HTTP status`);
}

/**
 * Fails unless `method route` answering `status` with `body` is what the OpenAPI document says.
 * An operation the document does not declare may only give the catch-all "No such route" 404.
 */
export function expectMatchesOpenApi(method: string, route: string, status: number, body: unknown): void {
  const what = `${method.toUpperCase()} ${route} -> ${status}`;
  const found = findOperation(method, route);
  if (!found) {
    assert.equal(status, 404, `${what}: the OpenAPI document declares no ${method.toUpperCase()} ${route.split('?')[0]}, yet it answered ${status} ${JSON.stringify(body)}`);
    assertValid(validatorAt(ERROR_SCHEMA_POINTER), body, what);
    assertErrorCodeFitsStatus(status, body, what);
    return;
  }
  const { template, operation } = found;
  const declared = Object.keys(operation.responses);
  const statusKey = [String(status), `${String(status)[0]}XX`, 'default'].find((key) => key in operation.responses);
  assert.ok(statusKey, `${what}: ${method.toUpperCase()} ${template} does not declare status ${status} (declared: ${declared.join(', ')}); body ${JSON.stringify(body)}`);
  if (operation.responses[statusKey]!.content?.['application/json']) {
    assertValid(validatorAt(pointerOf('paths', template, method.toLowerCase(), 'responses', statusKey, 'content', 'application/json', 'schema')), body, what);
  }
  if (status >= 400) assertErrorCodeFitsStatus(status, body, what);
}

/**
 * A page, a redirect, a download or a stream (HTML, 3xx, CSV, server-sent events): the operation
 * must declare the status, and each of those media types only where it declares it.
 */
export function expectDeclaredPage(method: string, route: string, status: number, contentType: string): void {
  const what = `${method.toUpperCase()} ${route} -> ${status}`;
  const found = findOperation(method, route);
  assert.ok(found, `${what}: a page from a route the document does not declare`);
  const response = found.operation.responses[String(status)];
  assert.ok(response, `${what}: ${found.template} does not declare status ${status}`);
  const media = /^text\/(?:html|csv|event-stream)/.exec(contentType)?.[0];
  if (media) assert.ok(response.content?.[media], `${what}: ${media} where the document declares none`);
}

/** `h.call`, with the answer held to the OpenAPI document. */
export async function checkedCall<T = Record<string, unknown>>(
  h: Harness,
  email: string | undefined,
  method: string,
  route: string,
  body?: unknown,
): Promise<ApiAnswer<T>> {
  const answer = await h.call<T>(email, method, route, body);
  expectMatchesOpenApi(method, route, answer.status, answer.body);
  return answer;
}
