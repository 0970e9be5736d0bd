/**
 * The API's OpenAPI 3.1 document, served at /v1/openapi.json. test/api.test.ts checks every
 * response the tests receive against it, so it stays true. Request bodies are derived from the zod
 * schemas the services validate them with, and every enum from the shared vocabulary, so neither is
 * written twice.
 */
import { z } from 'zod';
import { runBody } from '../service/reconcileService';
import { createRequestBody, extendBody } from '../service/requestService';
import { ERROR_CODES } from '../shared/errors';
import { MISSING_OUTCOME_ACTIONS, ORPHAN_OUTCOME_ACTIONS, RECONCILE_ACTIONS, RECONCILE_FINDINGS } from '../shared/reconcile';
import { AUDIT_EVENT_TYPES } from '../shared/events';
import { REQUEST_STATUSES } from '../shared/request';

/** A request body's JSON Schema (2020-12, OpenAPI 3.1's dialect), as the service's zod schema accepts it. */
function bodySchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...jsonSchema } = z.toJSONSchema(schema, { io: 'input' });
  return jsonSchema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
/** A request body's schema with a whole example (the fuzz test starts from it). */
const jsonWithExample = (schema: object, example: object) => ({ 'application/json': { schema, example } });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

/** What any route may answer before it runs: Node and the URL check refuse oversized requests. */
const oversizedRequest = {
  '414': errorResponse('uri_too_long: the URL (path and query) is longer than 4096 characters'),
  '431': errorResponse('headers_too_large: the URL and headers together exceed 16 KB'),
} as const;
/** Routes behind the per-token rate limit. */
const limited = {
  ...oversizedRequest,
  '429': {
    description: 'rate_limited: too many requests for this token (or, without one, this client IP) in the last minute',
    headers: {
      'Retry-After': { description: 'Seconds until the window resets', schema: { type: 'integer' } },
      RateLimit: { description: 'IETF draft-8 RateLimit header: remaining requests and reset', schema: { type: 'string' } },
      'RateLimit-Policy': { description: 'IETF draft-8 RateLimit-Policy header: the limit and window', schema: { type: 'string' } },
    },
    content: json(ref('Error')),
  },
} as const;
/** Routes that read a JSON body. */
const withBody = { ...limited, '413': errorResponse('payload_too_large: the body is larger than 64 KB') } as const;
const requestResponse = (description: string) => ({
  description,
  content: json({ type: 'object', required: ['request'], properties: { request: ref('Request') }, additionalProperties: false }),
});
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string', example: 'req_01JDQ2V7T4M9C8K1Z5X3N6B2W0' } };
const commentBody = {
  required: false,
  content: jsonWithExample(
    {
      type: 'object',
      properties: {
        comment: { type: 'string', description: 'Why (shown to the requester and kept in the audit trail).' },
        reason: { type: 'string', description: 'Alias of comment.' },
        subject: {
          type: 'string',
          pattern: '^(request|extension|ext-[0-9]{1,9})$',
          description:
            'Approve and deny only: what the approver decides, `request` (the default) or the id of the pending extension (`pendingExtension.id`, e.g. `ext-7`). A decision for something that no longer waits is refused with 409.',
        },
      },
    },
    { comment: 'ok for INC-42' },
  ),
};

function action(summary: string, description: string) {
  return {
    summary,
    description,
    parameters: [idParameter],
    requestBody: commentBody,
    responses: {
      '200': requestResponse('The request after the action'),
      '400': errorResponse('Bad input'),
      '401': errorResponse('Missing or invalid token'),
      '403': errorResponse('Not allowed (not an approver, self-approval, not the requester, not an admin)'),
      '404': errorResponse('No such request'),
      '409': errorResponse('The request is in the wrong state for this action, or (approve, deny) `subject` is not what waits for a decision'),
      ...withBody,
    },
  };
}

const timestamp = { type: 'string', format: 'date-time' };

/** The filters `GET /v1/requests` and `GET /v1/audit` share (an empty value is no filter). */
const listFilterParameters = [
  { name: 'requester', in: 'query', schema: { type: 'string', examples: ['alice@example.com'] }, description: 'Only requests this person made' },
  { name: 'resource', in: 'query', schema: { type: 'string', examples: ['prod', 'aws/prod', 'aws/prod/admin'] }, description: 'Only requests for this resource (or level)' },
  { name: 'from', in: 'query', schema: { type: 'string', examples: ['2026-05-01', '2026-05-01T09:00:00Z'] }, description: 'Made on or after this day (UTC) or time' },
  { name: 'to', in: 'query', schema: { type: 'string', examples: ['2026-05-31'] }, description: 'Made on or before this day (the whole UTC day), or before this time' },
];
const actorNote = {
  type: 'object',
  required: ['by', 'at'],
  properties: { by: { type: 'string' }, comment: { type: 'string' }, at: timestamp },
  additionalProperties: false,
};

/** One finding of a reconcile pass; `actions` are what the pass may have done about it (or would do, in a dry run). */
const reconcileOutcome = (description: string, actions: readonly string[]) => ({
  type: 'object',
  description,
  required: ['provider', 'requestId', 'description', 'action'],
  properties: {
    provider: { type: 'string', examples: ['aws'] },
    requestId: { type: 'string', description: 'The request the grant is marked with or leased to (it may be one no store knows)' },
    description: { type: 'string', examples: ['IAM user alice: inline policy p0-req_01JDQ2V7T4M9C8K1Z5X3N6B2W0 (role grant)'] },
    action: { type: 'string', enum: [...actions] },
    error: { type: 'string', description: 'Why the action failed (with `revoke_failed`, `reprovision_failed`)' },
  },
  additionalProperties: false,
});

/** A sign-in page for browsers (HTML, no JSON). */
function htmlPage(summary: string) {
  return {
    summary,
    security: [],
    responses: {
      '200': { description: 'An HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
      '303': { description: 'A redirect (to sign in first, to the identity provider, or back to returnTo)' },
      '400': { description: 'An HTML page saying what is wrong', content: { 'text/html': { schema: { type: 'string' } } } },
      '401': { description: 'Not signed in (or the session ended): an HTML page saying what to do', content: { 'text/html': { schema: { type: 'string' } } } },
      '403': { description: 'Refused (sign-in, CSRF): an HTML page saying why', content: { 'text/html': { schema: { type: 'string' } } } },
      '503': { description: 'The identity provider cannot be reached: an HTML page saying so', content: { 'text/html': { schema: { type: 'string' } } } },
      ...withBody,
    },
  };
}

/** A page of the web app (docs/web.md): its HTML for a signed-in browser, else a redirect to sign in. */
function webPage(summary: string) {
  return {
    summary,
    description: 'The web page (the same HTML for every page; the app routes in the browser), under a strict Content-Security-Policy. Without a session: 303 to /auth/login, coming back here afterwards.',
    security: [{ session: [] }],
    responses: {
      '200': { description: 'The web page', content: { 'text/html': { schema: { type: 'string' } } } },
      '303': { description: 'Not signed in: to /auth/login?returnTo=<this page>' },
      '400': errorResponse('A malformed URL (e.g. a bad escape)'),
      '503': { description: 'The web page could not be built on this server: an HTML page saying so', content: { 'text/html': { schema: { type: 'string' } } } },
      ...limited,
    },
  };
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'p0-jit API',
    version: '1',
    description:
      'Request, approve and end just-in-time cloud access. Authenticate with `Authorization: Bearer <token>` (`p0 login`), or, from a browser signed in at /auth/login, with the `p0_session` cookie: then every call that changes state sends the session\'s CSRF token (GET /auth/session) in `X-CSRF-Token` and comes from this origin, or it is refused with 403 `csrf`. An expired token is answered 401 `token_expired`.',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      session: { type: 'apiKey', in: 'cookie', name: 'p0_session', description: 'A browser session (HttpOnly, SameSite=Lax); state-changing calls also send X-CSRF-Token.' },
    },
    schemas: {
      Token: {
        type: 'object',
        required: ['id', 'email', 'admin', 'label', 'createdAt', 'expiresAt', 'current'],
        properties: {
          id: { type: 'integer' },
          email: { type: 'string' },
          admin: { type: 'boolean' },
          label: { type: ['string', 'null'], description: 'What it is for: "p0 login", "p0 login --device", "npm run token"' },
          createdAt: timestamp,
          expiresAt: { type: ['string', 'null'], format: 'date-time', description: 'Null: never expires (automation tokens)' },
          current: { type: 'boolean', description: 'The token this call was made with' },
        },
        additionalProperties: false,
      },
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', enum: [...ERROR_CODES] },
              message: { type: 'string' },
            },
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
      ReadinessChecks: {
        type: 'object',
        description: 'Each check: `ok`, or `failed: <why>`',
        required: ['temporal', 'database'],
        properties: { temporal: { type: 'string' }, database: { type: 'string' } },
        additionalProperties: { type: 'string' },
      },
      Request: {
        type: 'object',
        required: ['id', 'status', 'requester', 'provider', 'resource', 'level', 'kind', 'target', 'reason', 'duration', 'durationSeconds', 'approvers', 'approvalsRequired', 'approvals', 'createdAt', 'policyVersion', 'extensions', 'version'],
        properties: {
          id: { type: 'string', pattern: '^req_[0-9A-Z]{26}$' },
          status: { type: 'string', enum: [...REQUEST_STATUSES] },
          requester: { type: 'string' },
          provider: { type: 'string' },
          resource: { type: 'string', description: 'Catalog resource, e.g. an AWS account name' },
          level: { type: 'string', description: 'Access level within the resource' },
          kind: { type: 'string' },
          target: { type: 'string' },
          reason: { type: 'string' },
          duration: { type: 'string', description: 'Approved duration as given, e.g. 2h' },
          durationSeconds: { type: 'integer' },
          approvers: { type: 'array', items: { type: 'string' } },
          approvalsRequired: { type: 'integer' },
          approvals: { type: 'array', items: actorNote },
          decision: { ...actorNote, description: 'Who denied, cancelled, relinquished or revoked, and why' },
          createdAt: timestamp,
          activeAt: { ...timestamp, description: 'When the grant was verified usable; the access clock starts here' },
          expiresAt: timestamp,
          endedAt: timestamp,
          error: { type: 'string' },
          policyVersion: { type: 'string', description: 'The config version the request was decided under' },
          breakGlass: { type: 'boolean', description: 'Granted without approval; approvers review it afterwards' },
          review: { ...actorNote, description: 'The after-the-fact review of break-glass access' },
          startAt: { ...timestamp, description: 'Scheduled start: provisioned no earlier than this' },
          pendingExtension: {
            type: 'object',
            required: ['duration', 'durationSeconds', 'requestedAt', 'approvals'],
            properties: {
              id: { type: 'string', description: 'Names the extension in approve/deny (`subject`), e.g. `ext-7`' },
              duration: { type: 'string' },
              durationSeconds: { type: 'integer' },
              requestedAt: timestamp,
              comment: { type: 'string' },
              approvals: { type: 'array', items: actorNote },
            },
            additionalProperties: false,
          },
          extensions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['duration', 'durationSeconds', 'approvedBy', 'at', 'newExpiresAt'],
              properties: {
                duration: { type: 'string' },
                durationSeconds: { type: 'integer' },
                approvedBy: { type: 'array', items: { type: 'string' } },
                at: timestamp,
                newExpiresAt: timestamp,
              },
              additionalProperties: false,
            },
          },
          version: { type: 'integer' },
        },
        additionalProperties: false,
      },
      AuditEvent: {
        type: 'object',
        description: "One step of a request's audit trail: every state change and each approval",
        required: ['requestId', 'seq', 'type', 'actor', 'at'],
        properties: {
          requestId: { type: 'string' },
          seq: { type: 'integer', description: "Position in the request's trail (1, 2, ...)" },
          type: { type: 'string', enum: [...AUDIT_EVENT_TYPES] },
          actor: { type: 'string', description: 'Who did it: an email, `policy:<rule>`, or `system`' },
          at: timestamp,
          details: {
            type: 'object',
            description: 'What else the step recorded: a comment, a duration, how a removal went (`removedAtProvider`, `removal`, `alert`), an error',
          },
        },
        additionalProperties: false,
      },
      ReconcileReport: {
        type: 'object',
        description: 'One pass of the orphan reconciler: what it found at each provider and what it did',
        required: ['runId', 'dryRun', 'checkedAt', 'providers', 'orphans', 'missing', 'errors'],
        properties: {
          runId: { type: 'string', description: 'The pass (its workflow id); its events carry the same runId', examples: ['p0-reconcile-01JDQ2V7T4M9C8K1Z5X3N6B2W0'] },
          dryRun: { type: 'boolean', description: 'Nothing was changed or recorded; actions say what would be done' },
          checkedAt: timestamp,
          providers: { type: 'array', items: { type: 'string' }, description: 'The providers checked' },
          orphans: {
            type: 'array',
            items: reconcileOutcome('A grant at a provider that no request holds', ORPHAN_OUTCOME_ACTIONS),
          },
          missing: {
            type: 'array',
            items: reconcileOutcome(
              "An active request's grant the provider no longer reports; its workflow is told to provision it again (only reported with reconcile.regrantMissing: false)",
              MISSING_OUTCOME_ACTIONS,
            ),
          },
          errors: {
            type: 'array',
            description: 'Providers (or single grants) that could not be checked this time; the next pass tries again',
            items: {
              type: 'object',
              required: ['provider', 'message'],
              properties: { provider: { type: 'string' }, message: { type: 'string' } },
              additionalProperties: false,
            },
          },
        },
        additionalProperties: false,
      },
      ReconcileEvent: {
        type: 'object',
        description: "One line of the reconciler's audit trail",
        required: ['runId', 'at', 'finding', 'provider', 'description', 'action'],
        properties: {
          runId: { type: 'string', description: 'The pass that recorded it: `p0-reconciler...` for the schedule, `p0-reconcile-...` on demand' },
          at: timestamp,
          finding: { type: 'string', enum: [...RECONCILE_FINDINGS] },
          provider: { type: 'string' },
          requestId: { type: 'string' },
          description: { type: 'string' },
          action: { type: 'string', enum: [...RECONCILE_ACTIONS] },
          error: { type: 'string' },
        },
        additionalProperties: false,
      },
      Resource: {
        type: 'object',
        required: ['id', 'provider', 'resource', 'level', 'kind', 'target', 'minDuration', 'maxDuration', 'defaultDuration', 'durationPresets', 'approvalsRequired', 'requireReason', 'readOnly', 'allowExtension', 'maxLifetime'],
        properties: {
          id: { type: 'string', description: 'provider/resource/level' },
          provider: { type: 'string' },
          resource: { type: 'string' },
          level: { type: 'string' },
          kind: { type: 'string' },
          target: { type: 'string' },
          description: { type: 'string' },
          minDuration: { type: 'string' },
          maxDuration: { type: 'string' },
          defaultDuration: { type: 'string' },
          durationPresets: { type: 'array', items: { type: 'string' } },
          approvalsRequired: { type: 'integer' },
          requireReason: { type: 'boolean' },
          reasonPatternDescription: { type: 'string' },
          breakGlass: { type: 'object', required: ['maxDuration'], properties: { maxDuration: { type: 'string' } }, additionalProperties: false },
          readOnly: { type: 'boolean' },
          allowExtension: { type: 'boolean', description: 'Whether active access may be extended (POST /v1/requests/{id}/extend)' },
          maxLifetime: { type: 'string', description: 'The most a request may last in all, its extensions included' },
          resourceDescription: { type: 'string', description: "The resource's own description (an account, a project, a cluster)" },
        },
        additionalProperties: false,
      },
    },
  },
  security: [{ bearer: [] }, { session: [] }],
  paths: {
    '/healthz': {
      get: {
        summary: 'Liveness',
        security: [],
        description: 'The process answers; it checks nothing else (see /readyz). No token, no rate limit.',
        responses: {
          '200': { description: 'Up', content: json({ type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }) },
          ...oversizedRequest,
        },
      },
    },
    '/readyz': {
      get: {
        summary: 'Readiness',
        security: [],
        description:
          'Whether this instance can serve requests: Temporal answers and the database answers (each within 2 s). No token needed, no rate limit: without a valid token the answer is only `status`; with one (any user) it also names each check and why it failed. A token that names nobody counts against the failed-call allowance of the client address; past it the token is not checked.',
        responses: {
          '200': {
            description: 'Ready (`checks` only with a valid token)',
            content: json({
              type: 'object',
              required: ['status'],
              properties: { status: { const: 'ready' }, checks: ref('ReadinessChecks') },
              additionalProperties: false,
            }),
          },
          '503': {
            description: 'Not ready: with a valid token, `checks` and `error` say which dependency failed and why; without one, `error` says only that',
            content: json({
              type: 'object',
              required: ['status', 'error'],
              properties: {
                status: { const: 'not_ready' },
                checks: ref('ReadinessChecks'),
                error: { $ref: '#/components/schemas/Error/properties/error' },
              },
              additionalProperties: false,
            }),
          },
          ...oversizedRequest,
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        security: [],
        description: 'Prometheus text exposition format 0.0.4 (p0_requests, p0_approval_to_active_seconds, p0_revoke_lateness_seconds, p0_provider_errors_total, p0_orphans_found_total, process metrics). No token, no rate limit.',
        responses: {
          '200': { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...oversizedRequest,
        },
      },
    },
    '/v1/openapi.json': {
      get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) }, ...oversizedRequest } },
    },
    '/v1/me': {
      get: {
        summary: 'Who the token belongs to',
        responses: {
          '200': {
            description: 'The caller',
            content: json({
              type: 'object',
              required: ['user'],
              properties: {
                user: {
                  type: 'object',
                  required: ['email', 'admin'],
                  properties: { email: { type: 'string' }, admin: { type: 'boolean' } },
                  additionalProperties: false,
                },
              },
            }),
          },
          '401': errorResponse('Missing or invalid token'),
          ...limited,
        },
      },
    },
    '/v1/resources': {
      get: {
        summary: 'What the caller may request',
        responses: {
          '200': {
            description: 'The catalog',
            content: json({ type: 'object', required: ['resources'], properties: { resources: { type: 'array', items: ref('Resource') } } }),
          },
          '401': errorResponse('Missing or invalid token'),
          ...limited,
        },
      },
    },
    '/v1/requests': {
      post: {
        summary: 'Request access',
        requestBody: {
          required: true,
          content: jsonWithExample(bodySchema(createRequestBody), { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'deploy hotfix INC-42', duration: '1h' }),
        },
        responses: {
          '201': requestResponse('The new request, pending approval'),
          '400': errorResponse('Bad input (unknown field, bad duration, ...)'),
          '401': errorResponse('Missing or invalid token'),
          '404': errorResponse("This resource doesn't exist (not covered by the access policy)"),
          '409': errorResponse('Break-glass refused: the requester already holds as many unreviewed break-glass requests as the policy allows'),
          ...withBody,
        },
      },
      get: {
        summary: 'List requests the caller can see',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: [...REQUEST_STATUSES] } },
          { name: 'mine', in: 'query', schema: { type: 'boolean' }, description: 'Only requests the caller made' },
          { name: 'pendingApproval', in: 'query', schema: { type: 'boolean' }, description: 'Only pending requests the caller may approve' },
          ...listFilterParameters,
        ],
        responses: {
          '200': {
            description: 'Newest first',
            content: json({ type: 'object', required: ['requests'], properties: { requests: { type: 'array', items: ref('Request') } } }),
          },
          '400': errorResponse('Bad filter'),
          '401': errorResponse('Missing or invalid token'),
          ...limited,
        },
      },
    },
    '/v1/requests/{id}': {
      get: {
        summary: 'One request',
        parameters: [idParameter],
        responses: {
          '200': requestResponse('The request'),
          '400': errorResponse('Malformed request (e.g. a bad URL escape)'),
          '503': errorResponse('The request was just made and the workers have not answered yet: try again'),
          '401': errorResponse('Missing or invalid token'),
          '404': errorResponse('No such request (or not visible to the caller)'),
          ...limited,
        },
      },
    },
    '/v1/requests/{id}/events': {
      get: {
        summary: "One request's audit trail",
        description: 'Every state change and approval of the request, in order: who, when, and (for an end) whether the removal was confirmed at the provider.',
        parameters: [idParameter],
        responses: {
          '200': {
            description: 'In sequence order',
            content: json({ type: 'object', required: ['events'], properties: { events: { type: 'array', items: ref('AuditEvent') } }, additionalProperties: false }),
          },
          '400': errorResponse('Malformed request (e.g. a bad URL escape)'),
          '401': errorResponse('Missing or invalid token'),
          '404': errorResponse('No such request (or not visible to the caller)'),
          '503': errorResponse('The request was just made and the workers have not answered yet: try again'),
          ...limited,
        },
      },
    },
    '/v1/events': {
      get: {
        summary: "A live stream of changes to the caller's visible requests (server-sent events)",
        description:
          "`text/event-stream`. Each change to a request the caller can see (made, requested of them, or any as an admin) is an `event: request` whose `data` is `{\"type\": <audit event type>, \"request\": <Request>}` (the request as it stands now) and whose `id` is the change's position. A reconnecting client sends `Last-Event-ID` and first hears what it missed; `event: reset` means too much was missed: fetch afresh. Comment lines keep the connection open; the server ends a stream after 5 minutes (EventSource reconnects, authenticated afresh). Each API process reads the changes from the database, so any number of them serve it.",
        parameters: [{ name: 'Last-Event-ID', in: 'header', schema: { type: 'string', pattern: '^[0-9]{1,15}$' }, description: 'Resume after this change' }],
        responses: {
          '200': { description: 'The stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '401': errorResponse('Missing or invalid token or session'),
          ...limited,
        },
      },
    },
    '/v1/audit': {
      get: {
        summary: 'Every request the filters select and all their events (admins)',
        description: 'The Audit page: requests newest first, and their events newest first. `format=csv` answers the events as CSV (one line each, with the request\'s fields), for a spreadsheet.',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: [...REQUEST_STATUSES] } },
          ...listFilterParameters,
          { name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'csv'] }, description: 'csv: a download of the events' },
        ],
        responses: {
          '200': {
            description: 'The selection',
            content: {
              ...json({
                type: 'object',
                required: ['requests', 'events'],
                properties: { requests: { type: 'array', items: ref('Request') }, events: { type: 'array', items: ref('AuditEvent') } },
                additionalProperties: false,
              }),
              'text/csv': { schema: { type: 'string', description: 'Columns: at, request, event, actor, requester, provider, resource, level, kind, target, status, reason, details' } },
            },
          },
          '400': errorResponse('Bad filter (each problem names its field)'),
          '401': errorResponse('Missing or invalid token'),
          '403': errorResponse('Not an admin'),
          ...limited,
        },
      },
    },
    '/v1/requests/{id}/approve': { post: action('Approve', 'By an approver named by the policy (never the requester unless the level allows self-approval). While active, approves the pending extension.') },
    '/v1/requests/{id}/deny': { post: action('Deny', 'By an approver; the comment is the reason. While active, denies the pending extension.') },
    '/v1/requests/{id}/extend': {
      post: {
        ...action('Extend', "The requester asks for more time on active access; approved like a request (or at once by an auto-approval rule). 409 past the request's maximum lifetime (its duration plus all extensions)."),
        requestBody: {
          required: true,
          content: jsonWithExample(bodySchema(extendBody), { duration: '1h', comment: 'the migration is taking longer' }),
        },
      },
    },
    '/v1/requests/{id}/review': { post: action('Review', 'An approver reviews break-glass access after the fact.') },
    '/v1/requests/{id}/relinquish': { post: action('Relinquish', 'The requester ends active access early; answers once removal is confirmed (or after 30 s with the current state).') },
    '/v1/requests/{id}/cancel': { post: action('Cancel', 'The requester withdraws a pending request.') },
    '/v1/requests/{id}/revoke': { post: action('Revoke', "An admin ends access; a break-glass request's approvers may too.") },
    '/v1/tokens': {
      get: {
        summary: "The caller's live API tokens (admins: ?email= or ?all=true)",
        parameters: [
          { name: 'email', in: 'query', schema: { type: 'string' }, description: 'Admins: this person\'s tokens' },
          { name: 'all', in: 'query', schema: { type: 'boolean' }, description: "Admins: everyone's tokens" },
        ],
        responses: {
          '200': { description: 'Newest first; never the tokens themselves', content: json({ type: 'object', required: ['tokens'], properties: { tokens: { type: 'array', items: ref('Token') } }, additionalProperties: false }) },
          '400': errorResponse('Bad filter'),
          '401': errorResponse('Missing, invalid or expired token'),
          '403': errorResponse("Not an admin (asking for someone else's tokens)"),
          ...limited,
        },
      },
    },
    '/v1/tokens/{tokenId}': {
      delete: {
        summary: "Revoke a token: your own, or (admins) anyone's; `current` is the one making this call (`p0 logout`)",
        parameters: [{ name: 'tokenId', in: 'path', required: true, schema: { type: 'string', examples: ['42', 'current'] } }],
        responses: {
          '200': { description: 'Revoked', content: json({ type: 'object', required: ['revoked'], properties: { revoked: { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } } }, additionalProperties: false }) },
          '400': errorResponse('`current` on a call not made with a token'),
          '401': errorResponse('Missing, invalid or expired token'),
          '403': errorResponse('csrf: a cookie call without the CSRF token'),
          '404': errorResponse('No live token with this id that you may revoke'),
          ...limited,
        },
      },
    },
    '/': { get: webPage('Access Management: Request Access, and the Activity of your requests (Pending, Active, History)') },
    '/approvals': { get: webPage('Approvals: the requests waiting for you, and your decisions') },
    '/audit': { get: webPage('Audit (admins): every request and event, filtered, with Revoke and a CSV export') },
    '/requests/{id}': { get: { ...webPage("A request's own page and its audit trail"), parameters: [idParameter] } },
    '/auth/login': {
      get: {
        ...htmlPage('Starts sign-in: redirects (303) to the identity provider, or explains login links when none is configured'),
        parameters: [{ name: 'returnTo', in: 'query', schema: { type: 'string' }, description: 'A path on this site to come back to (anything else is ignored)' }],
      },
    },
    '/auth/callback': { get: htmlPage("The identity provider's redirect (code, state): signs in and redirects to returnTo, or 403 with a page saying why not") },
    '/auth/link': {
      get: htmlPage('A one-time login link (`npm run login-link`); its token follows `#` and is posted by the page'),
      post: htmlPage('Uses a login link (form field `token`): signs in once; 403 when used or expired'),
    },
    '/auth/logout': { post: htmlPage('Ends the session (form field `csrf` or header X-CSRF-Token); JSON `{signedOut: true}` when asked for JSON') },
    '/auth/session': {
      get: {
        summary: 'The signed-in person and the CSRF token their calls send',
        security: [{ session: [] }],
        responses: {
          '200': { description: 'Signed in', content: json({ type: 'object', required: ['user', 'csrfToken'], properties: { user: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } }, csrfToken: { type: 'string' } } }) },
          '401': errorResponse('Not signed in'),
          ...oversizedRequest,
        },
      },
    },
    '/auth/cli': {
      get: htmlPage('`p0 login`: asks the signed-in person to give the CLI on this machine a token (query: port, state)'),
      post: htmlPage("Issues a personal token and posts it (never in a URL) to the CLI's one-shot listener on 127.0.0.1:port"),
    },
    '/auth/device': {
      post: {
        summary: '`p0 login --device`: a device code to poll with and a short code for the person to type at /device',
        security: [],
        responses: {
          '200': {
            description: 'The codes',
            content: json({ type: 'object', required: ['deviceCode', 'userCode', 'verificationUrl', 'expiresIn', 'interval'], properties: { deviceCode: { type: 'string' }, userCode: { type: 'string', examples: ['KPZD-7QMA'] }, verificationUrl: { type: 'string' }, expiresIn: { type: 'integer' }, interval: { type: 'integer' } } }),
          },
          ...limited,
        },
      },
    },
    '/auth/device/token': {
      post: {
        summary: 'Polls a device code: 202 while the person has not confirmed, then (once) the token',
        security: [],
        requestBody: { required: true, content: json({ type: 'object', required: ['deviceCode'], properties: { deviceCode: { type: 'string' } } }) },
        responses: {
          '200': { description: 'Approved', content: json({ type: 'object', required: ['token', 'email'], properties: { token: { type: 'string' }, email: { type: 'string' } } }) },
          '202': { description: 'Not confirmed yet: poll again after `interval` seconds', content: json({ type: 'object', required: ['status'], properties: { status: { const: 'pending' } } }) },
          '400': errorResponse('Unknown, used or expired device code'),
          ...withBody,
        },
      },
    },
    '/device': {
      get: htmlPage('Where a signed-in person types the code `p0 login --device` shows'),
      post: htmlPage('Confirms a device code (form fields `code`, `csrf`)'),
    },
    '/v1/reconcile': {
      post: {
        summary: 'Run the orphan reconciler once (admins)',
        description:
          'Runs one pass now and answers when it is done (up to 10 minutes): grants at the providers that no request holds are removed (or only reported), and active requests whose grant went missing are told to provision it again. The Temporal Schedule also runs it every `reconcile.every`.',
        requestBody: {
          required: false,
          content: json(bodySchema(runBody)),
        },
        responses: {
          '200': {
            description: 'The pass',
            content: json({ type: 'object', required: ['report'], properties: { report: ref('ReconcileReport') }, additionalProperties: false }),
          },
          '400': errorResponse('Bad input (an unknown field, dryRun not a boolean, orphans not revoke or report)'),
          '401': errorResponse('Missing or invalid token'),
          '403': errorResponse('Not an admin'),
          '500': errorResponse('The pass itself failed or ran out of time; GET /v1/reconcile/events shows what it did'),
          ...withBody,
        },
      },
    },
    '/v1/reconcile/events': {
      get: {
        summary: "The reconciler's audit trail (admins)",
        description: 'Every orphan it removed, reported or failed to remove, and every missing grant it asked to re-provision, newest first. Dry runs record nothing.',
        parameters: [
          { name: 'requestId', in: 'query', schema: { type: 'string' }, description: 'Only findings for this request' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, default: 100 }, description: 'At most this many (capped at 1000)' },
        ],
        responses: {
          '200': {
            description: 'Newest first',
            content: json({ type: 'object', required: ['events'], properties: { events: { type: 'array', items: ref('ReconcileEvent') } }, additionalProperties: false }),
          },
          '400': errorResponse('Bad limit (not a positive whole number)'),
          '401': errorResponse('Missing or invalid token'),
          '403': errorResponse('Not an admin'),
          ...limited,
        },
      },
    },
  },
} as const;
