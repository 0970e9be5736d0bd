/**
 * A fake Google Cloud Resource Manager for tests: no Google emulator exists for IAM, so this small
 * HTTP server speaks the part of the public REST shape the provider uses, as the real client library
 * sends it (`POST /v3/projects/<id>:getIamPolicy` and `:setIamPolicy`, JSON bodies, bearer token).
 * It keeps one policy per project with an etag that changes on every write, refuses a stale etag
 * with 409 ABORTED as Google does, refuses a wrong token with 401, checks roles, members and the
 * version-3 rule for conditions, and records every call. A test can make the next call fail (503,
 * 429, a reset connection) or have someone else change the policy just before the next write.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeCondition {
  title: string;
  description?: string;
  expression: string;
}

export interface FakeBinding {
  role: string;
  members: string[];
  condition?: FakeCondition;
}

/** A project's policy as the fake stores it (empty proto3 fields left out, as Google does). */
export interface FakePolicy {
  version: number;
  etag: string;
  bindings: FakeBinding[];
}

export type FakeMethod = 'getIamPolicy' | 'setIamPolicy';

export interface RecordedCall {
  method: FakeMethod;
  project: string;
  /** The HTTP status the fake answered with (0 for a reset connection). */
  status: number;
  /** getIamPolicy: the version asked for. */
  requestedPolicyVersion?: number;
  /** setIamPolicy: the policy sent, as sent. */
  policy?: { version?: number; etag?: string; bindings?: FakeBinding[] };
}

/** A failure to answer one call with: an HTTP status with Google's error body, or a dropped connection. */
/** `reset`: the connection is cut before the call is served; `applied-reset`: served, then cut before the answer. */
export type InjectedFailure = 503 | 500 | 429 | 'reset' | 'applied-reset';

/** Predefined roles the fake knows; anything else is refused like an unknown role. */
export const FAKE_KNOWN_ROLES = [
  'roles/owner',
  'roles/editor',
  'roles/viewer',
  'roles/bigquery.admin',
  'roles/bigquery.dataViewer',
  'roles/storage.objectViewer',
  'roles/storage.admin',
  'roles/resourcemanager.projectIamAdmin',
];

const MEMBER_PATTERN = /^(?:user|serviceAccount|group):[^@\s]+@[^@\s]+$|^domain:[^@\s]+$/;
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

interface StoredProject {
  version: number;
  revision: number;
  bindings: FakeBinding[];
}

interface ConcurrentChange {
  project: string;
  change: (bindings: FakeBinding[]) => FakeBinding[];
  times: number;
}

export class FakeResourceManager {
  /** Every call, in order. */
  readonly calls: RecordedCall[] = [];
  private readonly projects = new Map<string, StoredProject>();
  private readonly failures: Array<{ method: FakeMethod; failure: InjectedFailure }> = [];
  private readonly changes: ConcurrentChange[] = [];
  /** Every policy each project has had, by etag: what a setIamPolicy call that names an etag changes. */
  private readonly history = new Map<string, FakeBinding[]>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    /** `http://127.0.0.1:<port>`, the value for `gcloud.endpoint`. */
    readonly endpoint: string,
    /** The only bearer token accepted, the value for `gcloud.accessToken`. */
    readonly token: string,
    private readonly roles: ReadonlySet<string>,
  ) {}

  /** Listens on a port the OS picks on loopback (in-process, so no port is handed over to race for). */
  static async start(options: { token?: string; roles?: readonly string[] } = {}): Promise<FakeResourceManager> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeResourceManager(server, `http://127.0.0.1:${port}`, options.token ?? 'fake-token-for-tests', new Set(options.roles ?? FAKE_KNOWN_ROLES));
    server.on('connection', (socket) => {
      fake.sockets.add(socket);
      socket.once('close', () => fake.sockets.delete(socket));
    });
    server.on('request', (request, response) => fake.handle(request, response));
    return fake;
  }

  /** Creates (or resets) a project with these bindings. */
  addProject(project: string, bindings: FakeBinding[] = []): void {
    this.projects.set(project, { version: versionFor(bindings, 1), revision: 1, bindings: normalize(bindings) });
    this.remember(project);
  }

  /**
   * The bindings the project had when its etag was `etag` (a copy), or undefined for an etag it
   * never had: a setIamPolicy body compared with this shows what its writer meant to change.
   */
  bindingsAt(etag: string): FakeBinding[] | undefined {
    const bindings = this.history.get(etag);
    return bindings && structuredClone(bindings);
  }

  private remember(project: string): void {
    const stored = this.projects.get(project)!;
    this.history.set(etagOf(project, stored.revision), structuredClone(stored.bindings));
  }

  /** The project's current policy (a copy). */
  policy(project: string): FakePolicy {
    const stored = this.projects.get(project);
    if (!stored) throw new Error(`fake Resource Manager has no project ${project}`);
    return { version: stored.version, etag: etagOf(project, stored.revision), bindings: structuredClone(stored.bindings) };
  }

  bindings(project: string): FakeBinding[] {
    return this.policy(project).bindings;
  }

  /** Answers the next `method` call with `failure` instead, once. */
  failNext(method: FakeMethod, failure: InjectedFailure): void {
    this.failures.push({ method, failure });
  }

  /**
   * Someone else changes the project's policy just before each of the next `times` setIamPolicy
   * calls arrives, so the etag the caller read is stale and Google's answer is 409 ABORTED.
   */
  changeBeforeNextSet(project: string, change: (bindings: FakeBinding[]) => FakeBinding[], times = 1): void {
    this.changes.push({ project, change, times });
  }

  callsOf(method: FakeMethod, project?: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method && (project === undefined || call.project === project));
  }

  async stop(): Promise<void> {
    // The client library keeps connections alive; close them so the server can stop at once.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const route = /^\/v3\/projects\/([^/:?]+):(getIamPolicy|setIamPolicy)(?:\?.*)?$/.exec(request.url ?? '');
      if (request.method !== 'POST' || !route) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
        return;
      }
      const project = decodeURIComponent(route[1]!);
      const method = route[2] as FakeMethod;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        this.answerError(response, { method, project }, 400, 'Invalid JSON payload received.');
        return;
      }
      const call: RecordedCall = { method, project, status: 0 };
      if (method === 'getIamPolicy') {
        const options = body.options as { requestedPolicyVersion?: number } | undefined;
        call.requestedPolicyVersion = options?.requestedPolicyVersion ?? 0;
      } else {
        call.policy = structuredClone(body.policy) as RecordedCall['policy'];
      }

      if (request.headers.authorization !== `Bearer ${this.token}`) {
        this.answerError(response, call, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
        return;
      }
      const failureIndex = this.failures.findIndex((failure) => failure.method === method);
      if (failureIndex >= 0) {
        const { failure } = this.failures.splice(failureIndex, 1)[0]!;
        if (failure === 'reset') {
          this.calls.push(call);
          request.socket.destroy();
          return;
        }
        if (failure === 'applied-reset') {
          // Served as usual below; the answer is swallowed and the connection cut instead.
          response.writeHead = () => response;
          response.end = () => {
            request.socket.destroy();
            return response;
          };
        } else {
          this.answerError(response, call, failure, failure === 429 ? 'Quota exceeded.' : 'The service is currently unavailable.');
          return;
        }
      }
      const stored = this.projects.get(project);
      if (!stored) {
        this.answerError(response, call, 404, `Project 'projects/${project}' not found.`);
        return;
      }
      if (method === 'getIamPolicy') this.getIamPolicy(response, call, project, stored);
      else this.setIamPolicy(response, call, project, stored);
    });
  }

  private getIamPolicy(response: http.ServerResponse, call: RecordedCall, project: string, stored: StoredProject): void {
    const hasConditions = stored.bindings.some((binding) => binding.condition);
    if (hasConditions && (call.requestedPolicyVersion ?? 0) < 3) {
      this.answerError(response, call, 400, 'Policies with conditional role bindings must be requested with version 3.');
      return;
    }
    this.answer(response, call, 200, this.policy(project));
  }

  private setIamPolicy(response: http.ServerResponse, call: RecordedCall, project: string, stored: StoredProject): void {
    const changeIndex = this.changes.findIndex((change) => change.project === project);
    if (changeIndex >= 0) {
      const concurrent = this.changes[changeIndex]!;
      stored.bindings = normalize(concurrent.change(structuredClone(stored.bindings)));
      stored.version = versionFor(stored.bindings, stored.version);
      stored.revision += 1;
      this.remember(project);
      if (--concurrent.times === 0) this.changes.splice(changeIndex, 1);
    }
    const sent = call.policy ?? {};
    if (sent.etag !== undefined && sent.etag !== etagOf(project, stored.revision)) {
      this.answerError(response, call, 409, 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
      return;
    }
    const bindings = normalize(sent.bindings ?? []);
    for (const binding of bindings) {
      if (!this.roles.has(binding.role)) {
        this.answerError(response, call, 400, `Role ${binding.role} is not supported for this resource.`);
        return;
      }
      const badMember = binding.members.find((member) => !MEMBER_PATTERN.test(member));
      if (badMember !== undefined) {
        this.answerError(response, call, 400, `Invalid principal: ${badMember}`);
        return;
      }
      if (binding.condition && (!binding.condition.title || !binding.condition.expression)) {
        this.answerError(response, call, 400, 'A condition needs a title and an expression.');
        return;
      }
      if (binding.condition && (sent.version ?? 0) < 3) {
        this.answerError(response, call, 400, 'Conditional role bindings need policy version 3.');
        return;
      }
    }
    stored.bindings = bindings;
    stored.version = versionFor(bindings, sent.version ?? 1);
    stored.revision += 1;
    this.remember(project);
    this.answer(response, call, 200, this.policy(project));
  }

  private answerError(response: http.ServerResponse, call: Omit<RecordedCall, 'status'> & { status?: number }, status: number, message: string): void {
    this.answer(response, call, status, { error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN' } });
  }

  private answer(response: http.ServerResponse, call: Omit<RecordedCall, 'status'> & { status?: number }, status: number, body: unknown): void {
    this.calls.push({ ...call, status });
    response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
  }
}

/** Etags are bytes in Google's API (base64 in JSON): the client library decodes and re-encodes them. */
function etagOf(project: string, revision: number): string {
  return Buffer.from(`${project}#${revision}`).toString('base64');
}

/** Conditional bindings only exist in version 3 policies. */
function versionFor(bindings: FakeBinding[], requested: number): number {
  return bindings.some((binding) => binding.condition) ? 3 : Math.max(1, requested);
}

/**
 * Stores bindings as Google shows them: proto3 empty strings are no value (the client sends
 * `description: ""` and `location: ""` for conditions that have none), and a binding without members
 * is dropped.
 */
function normalize(bindings: FakeBinding[]): FakeBinding[] {
  // What arrives over the wire may lack any field (proto3 JSON leaves empty ones out).
  return (bindings as Array<Partial<FakeBinding>>)
    .filter((binding) => (binding.members ?? []).length > 0)
    .map(({ role = '', members = [], condition }) => {
      const normalized: FakeBinding = { role, members: [...members] };
      if (condition && (condition.title || condition.expression)) {
        normalized.condition = { title: condition.title, expression: condition.expression };
        if (condition.description) normalized.condition.description = condition.description;
      }
      return normalized;
    });
}
