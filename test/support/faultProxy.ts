/**
 * A reverse proxy in front of one provider endpoint that answers a chosen fraction of calls with the
 * failures that provider really sends, in its own error format, so the provider code under test meets
 * them exactly as in production (toxiproxy, in toxiproxy.ts, breaks the TCP connection instead; this
 * breaks the HTTP answer):
 *
 * - `throttle`: the provider's rate-limit answer (AWS 400 Throttling, Google 429 RESOURCE_EXHAUSTED,
 *   Kubernetes 429 TooManyRequests with Retry-After: 1); the call never reaches the upstream.
 * - `unavailable`: 503 in the provider's format; the call never reaches the upstream.
 * - `applied-lost`: the call IS forwarded and applied, its answer is thrown away and the client gets
 *   a 500 (AWS InternalFailure, Google INTERNAL, Kubernetes InternalError), so a retry repeats an
 *   operation that already happened.
 *
 * Which calls get a fault is drawn from a seeded PRNG: the same sequence of calls gets the same
 * faults on every run. Every call is logged (operation, fault, upstream status) so a test can count
 * the faults and find the operations that were applied more than once.
 *
 * Dialects: `aws` (query protocol as IAM and STS speak it, XML errors; JSON-protocol calls, as IAM
 * Identity Center's, get JSON errors), `google` (REST, `{error: {code, message, status}}`),
 * `kubernetes` (Status objects; the apiserver is HTTPS, so the proxy terminates TLS with a
 * self-signed certificate made with openssl and forwards over HTTPS, see `startKubernetesFaultProxy`).
 * Headers are forwarded as sent, Host and Authorization included, so SigV4 signatures and bearer
 * tokens stay valid.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '@kubernetes/client-node';

export type FaultDialect = 'aws' | 'google' | 'kubernetes';
export type FaultKind = 'throttle' | 'unavailable' | 'applied-lost';
export const FAULT_KINDS: readonly FaultKind[] = ['throttle', 'unavailable', 'applied-lost'];

/** What the eligibility filters see of a call. */
export interface CallInfo {
  /** HTTP method, upper case. */
  method: string;
  /** Path and query, as sent. */
  path: string;
  /**
   * AWS: the Action (query protocol) or the X-Amz-Target operation (JSON protocol), e.g.
   * `AddUserToGroup`. Google: the custom method (`getIamPolicy`, `setIamPolicy`), else
   * `<METHOD> <path>`. Kubernetes: `<verb> <resource>[/<subresource>]`, e.g. `create rolebindings`,
   * `delete rolebindings`, `create subjectaccessreviews`.
   */
  operation: string;
  /** Whether the call changes state (AWS: not Get/List/Describe/Simulate...; Google: not a GET or getIamPolicy/testIamPermissions; Kubernetes: POST/PUT/PATCH/DELETE except access reviews). */
  mutating: boolean;
  /** AWS: the protocol, which decides the error format (query: XML; json: IAM Identity Center and others). */
  awsProtocol?: 'query' | 'json';
}

/**
 * What a call does for whom, as the test that started the proxy sees it (see FaultProxyOptions.classify):
 * e.g. `{action: 'grant', requestId: 'req_01...'}`. The proxy only stores it.
 */
export interface CallPurpose {
  action: string;
  requestId?: string;
}

/** One call through the proxy. */
export interface FaultCall extends CallInfo {
  /** 1, 2, ... in arrival order. */
  seq: number;
  /** Arrival time, ms since the epoch. */
  at: number;
  /** The request body as text (form-encoded for AWS query, JSON otherwise). */
  requestBody: string;
  /** Whether the filters let a fault be drawn for it. */
  eligible: boolean;
  /** The fault injected, if any. */
  fault: FaultKind | undefined;
  /** The upstream's status when the call was forwarded (undefined: not forwarded; 0: the upstream did not answer). */
  upstreamStatus: number | undefined;
  /** Why the upstream did not answer. */
  upstreamError?: string;
  /** What the client got (undefined until the answer starts; 0: its connection was dropped). */
  status: number | undefined;
  /** What the call does, when the proxy was given `classify`. */
  purpose?: CallPurpose;
  /** From arrival to the end of the answer (or the dropped connection); undefined until then. */
  durationMs?: number;
}

export interface FaultProxyOptions {
  dialect: FaultDialect;
  /** The real endpoint, `http(s)://host:port` (a path is ignored: calls keep their own). */
  upstream: string;
  /** Fraction of eligible calls that get a fault, 0..1; default 0 (pass everything through). */
  rate?: number;
  /** Faults to choose from (uniformly at random per faulted call); default all three. */
  kinds?: readonly FaultKind[];
  /** PRNG seed; default 1. */
  seed?: number;
  /** `mutating`: only calls that change state are eligible; a function decides per call. Default `all`. */
  eligible?: 'all' | 'mutating' | ((call: CallInfo) => boolean);
  /** Only these HTTP methods are eligible (upper case). */
  methods?: readonly string[];
  /** Only paths matching this are eligible (e.g. `/^\/v3\/projects\//` to spare a token endpoint). */
  paths?: RegExp;
  /** Only these operations (see CallInfo.operation) are eligible. */
  operations?: readonly string[];
  /** Serve over HTTPS; default: when the upstream is HTTPS. */
  tls?: boolean;
  /** Certificate and key to serve with; default a self-signed one for 127.0.0.1 and localhost. */
  certificate?: { cert: string; key: string };
  /** CA(s) that sign the upstream's certificate (HTTPS upstream). */
  upstreamCa?: string | Buffer;
  /** Do not verify the upstream's certificate. */
  upstreamInsecure?: boolean;
  /**
   * Reuse connections to the upstream (default true). False opens one per call: in front of
   * toxiproxy, whose toxicity is drawn per connection, every call then gets its own draw.
   */
  upstreamKeepAlive?: boolean;
  /** Names what each call does (stored as `call.purpose`), so a test can count the faults that hit, say, grants. */
  classify?: (call: CallInfo, requestBody: string) => CallPurpose | undefined;
}

/** Headers that belong to one connection and are never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export class FaultProxy {
  /** Every call, in arrival order. */
  readonly calls: FaultCall[] = [];
  /** `http(s)://127.0.0.1:<port>`: give this to the client instead of the upstream. */
  readonly url: string;
  /** The PEM certificate the proxy serves with (HTTPS): the CA a client must trust. */
  readonly ca: string | undefined;
  private rate: number;
  private kinds: readonly FaultKind[];
  private readonly random: () => number;
  private readonly forced: FaultKind[] = [];
  private readonly targeted: Array<{ kind: FaultKind; where: (call: FaultCall) => boolean; left: number }> = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly upstream: URL;
  private readonly agent: http.Agent;

  private constructor(
    private readonly server: http.Server,
    private readonly options: FaultProxyOptions,
    port: number,
    ca: string | undefined,
    /** Files this proxy wrote (certificate, kubeconfigs), removed on stop. */
    private readonly dir: string,
  ) {
    this.url = `${ca === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
    this.ca = ca;
    this.rate = checkRate(options.rate ?? 0);
    this.kinds = checkKinds(options.kinds ?? FAULT_KINDS);
    this.random = mulberry32(options.seed ?? 1);
    this.upstream = new URL(options.upstream);
    this.agent =
      this.upstream.protocol === 'https:'
        ? new https.Agent({ keepAlive: options.upstreamKeepAlive ?? true, ca: options.upstreamCa, rejectUnauthorized: !options.upstreamInsecure })
        : new http.Agent({ keepAlive: options.upstreamKeepAlive ?? true });
  }

  /** Listens on a port the OS picks on loopback (in-process: no port is handed over to race for). */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const upstream = new URL(options.upstream);
    if (!['http:', 'https:'].includes(upstream.protocol)) throw new Error(`fault proxy upstream must be http(s)://host:port, not ${options.upstream}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-fault-proxy-'));
    const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
    process.once('exit', removeDir);
    try {
      const useTls = options.tls ?? upstream.protocol === 'https:';
      const certificate = useTls ? (options.certificate ?? selfSignedCertificate(dir)) : undefined;
      const server = certificate ? https.createServer({ cert: certificate.cert, key: certificate.key }) : http.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const { port } = server.address() as net.AddressInfo;
      const proxy = new FaultProxy(server, options, port, certificate?.cert, dir);
      // TLS servers report the raw socket on 'connection' too, which is what must be destroyed on stop.
      server.on('connection', (socket: net.Socket) => {
        proxy.sockets.add(socket);
        socket.once('close', () => proxy.sockets.delete(socket));
      });
      server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => proxy.handle(request, response));
      server.once('close', () => process.off('exit', removeDir));
      return proxy;
    } catch (error) {
      removeDir();
      process.off('exit', removeDir);
      throw error;
    }
  }

  /** Changes the fraction of eligible calls that get a fault from now on (0 turns faults off). */
  setRate(rate: number): void {
    this.rate = checkRate(rate);
  }

  /** Changes which faults are drawn from now on. */
  setKinds(kinds: readonly FaultKind[]): void {
    this.kinds = checkKinds(kinds);
  }

  /** The next `count` eligible calls get `kind`, whatever the rate (no PRNG draw is used for them). */
  failNext(kind: FaultKind, count = 1): void {
    for (let i = 0; i < count; i++) this.forced.push(kind);
  }

  /**
   * The next `count` eligible calls for which `where` holds get `kind`, whatever the rate (before
   * `failNext` and the PRNG; no draw is used for them). E.g. the first grant call, by its purpose.
   */
  failNextWhere(kind: FaultKind, where: (call: FaultCall) => boolean, count = 1): void {
    checkKinds([kind]);
    this.targeted.push({ kind, where, left: count });
  }

  /** How many calls got each fault. */
  faultCounts(): Record<FaultKind, number> {
    const counts: Record<FaultKind, number> = { throttle: 0, unavailable: 0, 'applied-lost': 0 };
    for (const call of this.calls) if (call.fault) counts[call.fault] += 1;
    return counts;
  }

  callsOf(operation: string): FaultCall[] {
    return this.calls.filter((call) => call.operation === operation);
  }

  /** Calls the upstream applied (2xx) whose answer the client never saw: it got a 500 instead. */
  appliedLost(): FaultCall[] {
    return this.calls.filter((call) => call.fault === 'applied-lost' && isSuccess(call.upstreamStatus));
  }

  /**
   * Groups of calls the upstream accepted (2xx) more than once with the same key: by default the
   * same method, path and body, i.e. the very same request applied again (an SDK or activity retry).
   */
  appliedMoreThanOnce(keyOf: (call: FaultCall) => string = (call) => `${call.method} ${call.path}\n${call.requestBody}`): FaultCall[][] {
    const groups = new Map<string, FaultCall[]>();
    for (const call of this.calls) {
      if (!isSuccess(call.upstreamStatus)) continue;
      const key = keyOf(call);
      groups.set(key, [...(groups.get(key) ?? []), call]);
    }
    return [...groups.values()].filter((group) => group.length > 1);
  }

  /** Forgets the calls logged so far. */
  clearCalls(): void {
    this.calls.length = 0;
  }

  /**
   * Writes a copy of `kubeconfigPath` in which the cluster of `context` (default: the current
   * context) is reached through this proxy: its server is the proxy's URL and its CA the proxy's
   * certificate. Users (bearer tokens) and other clusters are untouched. Returns the new file's path,
   * removed on stop. For the Kubernetes dialect; `startKubernetesFaultProxy` does it all.
   */
  async writeKubeconfig(kubeconfigPath: string, context?: string): Promise<string> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const source = new KubeConfig();
    source.loadFromFile(kubeconfigPath);
    const cluster = clusterOf(source, context);
    const proxied: Cluster = { name: cluster.name, server: this.url, skipTLSVerify: false, ...(this.ca ? { caData: Buffer.from(this.ca).toString('base64') } : {}) };
    const copy = new KubeConfig();
    copy.loadFromOptions({
      clusters: source.clusters.map((entry) => (entry.name === cluster.name ? proxied : entry)),
      users: source.users,
      contexts: source.contexts,
      currentContext: source.currentContext,
    });
    const file = path.join(this.dir, `kubeconfig-${randomBytes(4).toString('hex')}`);
    fs.writeFileSync(file, copy.exportConfig(), { mode: 0o600 });
    return file;
  }

  async stop(): Promise<void> {
    // Clients keep connections alive; close them so the server stops at once.
    for (const socket of this.sockets) socket.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = (request.method ?? 'GET').toUpperCase();
      const requestPath = request.url ?? '/';
      const info = describeCall(this.options.dialect, method, requestPath, request.headers, body.toString('utf8'));
      const eligible = this.isEligible(info);
      const requestBody = body.toString('utf8');
      const purpose = this.options.classify?.(info, requestBody);
      const call: FaultCall = {
        ...info,
        seq: this.calls.length + 1,
        at: Date.now(),
        requestBody,
        eligible,
        fault: undefined,
        upstreamStatus: undefined,
        status: undefined,
        ...(purpose ? { purpose } : {}),
      };
      if (eligible) call.fault = this.draw(call);
      this.calls.push(call);
      // The status is set when the answer's head is written; an answer cut short counts as dropped.
      response.once('close', () => {
        if (!response.writableFinished) call.status = 0;
        call.durationMs = Date.now() - call.at;
      });
      if (call.fault === 'throttle' || call.fault === 'unavailable') {
        this.answerFault(response, call, call.fault);
        return;
      }
      this.forward(request, response, body, call);
    });
  }

  private isEligible(call: CallInfo): boolean {
    const { eligible = 'all', methods, paths, operations } = this.options;
    if (eligible === 'mutating' && !call.mutating) return false;
    if (typeof eligible === 'function' && !eligible(call)) return false;
    if (methods && !methods.includes(call.method)) return false;
    if (paths && !paths.test(call.path)) return false;
    if (operations && !operations.includes(call.operation)) return false;
    return true;
  }

  private draw(call: FaultCall): FaultKind | undefined {
    const target = this.targeted.find((candidate) => candidate.where(call));
    if (target) {
      if (--target.left === 0) this.targeted.splice(this.targeted.indexOf(target), 1);
      return target.kind;
    }
    const forced = this.forced.shift();
    if (forced) return forced;
    if (this.rate === 0 || this.kinds.length === 0) return undefined;
    if (this.random() >= this.rate) return undefined;
    return this.kinds[Math.floor(this.random() * this.kinds.length)];
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse, body: Buffer, call: FaultCall): void {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    headers['content-length'] = body.length;
    const transport = this.upstream.protocol === 'https:' ? https : http;
    const hostname = this.upstream.hostname.replace(/^\[|\]$/g, '');
    const upstreamRequest = transport.request({
      hostname,
      port: this.upstream.port || (this.upstream.protocol === 'https:' ? 443 : 80),
      method: call.method,
      path: call.path,
      // Host stays as the client sent it (SigV4 signs it), so the TLS name is given on its own.
      headers,
      agent: this.agent,
      ...(this.upstream.protocol === 'https:' && !net.isIP(hostname) ? { servername: hostname } : {}),
    });
    upstreamRequest.on('response', (upstreamResponse) => {
      call.upstreamStatus = upstreamResponse.statusCode ?? 0;
      if (call.fault === 'applied-lost') {
        // Applied upstream; the answer is lost on the way back.
        upstreamResponse.resume();
        upstreamResponse.once('end', () => this.answerFault(response, call, 'applied-lost'));
        upstreamResponse.once('error', () => this.answerFault(response, call, 'applied-lost'));
        return;
      }
      const responseHeaders: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upstreamResponse.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) responseHeaders[name] = value;
      call.status = call.upstreamStatus;
      response.writeHead(call.upstreamStatus, responseHeaders);
      upstreamResponse.pipe(response);
      upstreamResponse.once('error', () => response.destroy());
    });
    upstreamRequest.on('error', (error) => {
      // The upstream is unreachable or dropped the connection: the client sees the same.
      call.upstreamStatus ??= 0;
      call.upstreamError = error.message;
      call.status = 0;
      response.destroy();
    });
    upstreamRequest.end(body);
  }

  private answerFault(response: http.ServerResponse, call: FaultCall, fault: FaultKind): void {
    if (response.destroyed) return;
    const { status, headers, body } = forgedAnswer(this.options.dialect, fault, call);
    call.status = status;
    response.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) }).end(body);
  }
}

export interface KubernetesFaultProxy {
  proxy: FaultProxy;
  /** A kubeconfig like the one given, whose context's cluster is reached through the proxy. */
  kubeconfig: string;
}

/**
 * A Kubernetes-dialect fault proxy in front of the cluster that `context` (default: the current
 * context) of `kubeconfigPath` names: its server and CA are read from the kubeconfig, and the
 * returned kubeconfig points that cluster at the proxy (HTTPS, trusting the proxy's own certificate),
 * with the same users and context names. Give it to the worker as `k8s.kubeconfig`.
 */
export async function startKubernetesFaultProxy(
  kubeconfigPath: string,
  options: Omit<FaultProxyOptions, 'dialect' | 'upstream' | 'upstreamCa' | 'upstreamInsecure'> & { context?: string } = {},
): Promise<KubernetesFaultProxy> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const source = new KubeConfig();
  source.loadFromFile(kubeconfigPath);
  const cluster = clusterOf(source, options.context);
  const upstreamCa = cluster.caData ? Buffer.from(cluster.caData, 'base64') : cluster.caFile ? fs.readFileSync(cluster.caFile) : undefined;
  const { context, ...proxyOptions } = options;
  const proxy = await FaultProxy.start({ ...proxyOptions, dialect: 'kubernetes', upstream: cluster.server, upstreamCa, upstreamInsecure: cluster.skipTLSVerify });
  try {
    return { proxy, kubeconfig: await proxy.writeKubeconfig(kubeconfigPath, context) };
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

function clusterOf(config: import('@kubernetes/client-node').KubeConfig, context: string | undefined): Cluster {
  const name = context ?? config.getCurrentContext();
  const contextObject = config.getContextObject(name);
  if (!contextObject) throw new Error(`the kubeconfig has no context "${name}"`);
  const cluster = config.getCluster(contextObject.cluster);
  if (!cluster) throw new Error(`the context "${name}" names a cluster "${contextObject.cluster}" that is not in the kubeconfig`);
  return cluster;
}

// ---- What each provider sends back ---------------------------------------------------------------

interface ForgedAnswer {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: string;
}

/** AWS's own wording for each fault, by protocol. */
const AWS_FAULTS: Record<FaultKind, { status: number; type: 'Sender' | 'Receiver'; queryCode: string; jsonCode: string; message: string }> = {
  throttle: { status: 400, type: 'Sender', queryCode: 'Throttling', jsonCode: 'ThrottlingException', message: 'Rate exceeded' },
  unavailable: { status: 503, type: 'Receiver', queryCode: 'ServiceUnavailable', jsonCode: 'ServiceUnavailableException', message: 'Service is unable to handle request.' },
  'applied-lost': {
    status: 500,
    type: 'Receiver',
    queryCode: 'InternalFailure',
    jsonCode: 'InternalServerException',
    message: 'The request processing has failed because of an unknown error, exception or failure.',
  },
};

const GOOGLE_FAULTS: Record<FaultKind, { status: number; code: string; message: string }> = {
  throttle: {
    status: 429,
    code: 'RESOURCE_EXHAUSTED',
    message: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute' of service 'cloudresourcemanager.googleapis.com'.",
  },
  unavailable: { status: 503, code: 'UNAVAILABLE', message: 'The service is currently unavailable.' },
  'applied-lost': { status: 500, code: 'INTERNAL', message: 'Internal error encountered.' },
};

const KUBERNETES_FAULTS: Record<FaultKind, { status: number; reason: string; message: string }> = {
  throttle: { status: 429, reason: 'TooManyRequests', message: 'Too many requests, please try again later.' },
  unavailable: { status: 503, reason: 'ServiceUnavailable', message: 'The server is currently unable to handle the request' },
  'applied-lost': { status: 500, reason: 'InternalError', message: 'Internal error occurred: the server was unable to return a response in the time allotted' },
};

function forgedAnswer(dialect: FaultDialect, fault: FaultKind, call: FaultCall): ForgedAnswer {
  switch (dialect) {
    case 'aws': {
      const { status, type, queryCode, jsonCode, message } = AWS_FAULTS[fault];
      const requestId = randomUUID();
      if (call.awsProtocol === 'json') {
        return {
          status,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId, 'x-amzn-errortype': jsonCode },
          body: JSON.stringify({ __type: jsonCode, message }),
        };
      }
      // As IAM (and moto) answer: the namespace is IAM's, the SDK reads only Error/Code and Message.
      const body =
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' +
        `<Error><Type>${type}</Type><Code>${queryCode}</Code><Message>${message}</Message></Error>` +
        `<RequestId>${requestId}</RequestId></ErrorResponse>`;
      return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
    }
    case 'google': {
      const { status, code, message } = GOOGLE_FAULTS[fault];
      return { status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify({ error: { code: status, message, status: code } }) };
    }
    case 'kubernetes': {
      const { status, reason, message } = KUBERNETES_FAULTS[fault];
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'cache-control': 'no-cache, private' };
      const statusObject: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code: status };
      if (fault === 'throttle') {
        headers['retry-after'] = '1';
        statusObject.details = { retryAfterSeconds: 1 };
      }
      return { status, headers, body: JSON.stringify(statusObject) };
    }
  }
}

// ---- What a call is --------------------------------------------------------------------------------

const AWS_READ_ONLY = /^(?:Get|List|Describe|Simulate|Generate|Search|Lookup|Check)/;
const GOOGLE_READ_ONLY = new Set(['getIamPolicy', 'testIamPermissions', 'get', 'list', 'search']);
/** POSTed, but only reviews: nothing is stored. */
const KUBERNETES_REVIEWS = /reviews$/;

function describeCall(dialect: FaultDialect, method: string, requestPath: string, headers: http.IncomingHttpHeaders, body: string): CallInfo {
  const pathname = requestPath.split('?')[0]!;
  switch (dialect) {
    case 'aws': {
      const target = headers['x-amz-target'];
      const operation =
        typeof target === 'string'
          ? target.slice(target.lastIndexOf('.') + 1)
          : (new URLSearchParams(body).get('Action') ?? new URLSearchParams(requestPath.split('?')[1] ?? '').get('Action') ?? `${method} ${pathname}`);
      return { method, path: requestPath, operation, mutating: !AWS_READ_ONLY.test(operation), awsProtocol: typeof target === 'string' ? 'json' : 'query' };
    }
    case 'google': {
      const custom = /:([A-Za-z]+)$/.exec(pathname)?.[1];
      const operation = custom ?? `${method} ${pathname}`;
      return { method, path: requestPath, operation, mutating: method !== 'GET' && !(custom !== undefined && GOOGLE_READ_ONLY.has(custom)) };
    }
    case 'kubernetes': {
      const { verb, resource } = kubernetesRequest(method, requestPath);
      const mutating = ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(verb) && !KUBERNETES_REVIEWS.test(resource);
      return { method, path: requestPath, operation: `${verb} ${resource}`, mutating };
    }
  }
}

/** The RBAC verb and resource of an API request, as the apiserver's request info works them out. */
function kubernetesRequest(method: string, requestPath: string): { verb: string; resource: string } {
  const [pathname = '', query = ''] = requestPath.split('?');
  const segments = pathname.split('/').filter(Boolean);
  let rest: string[];
  if (segments[0] === 'api') rest = segments.slice(2);
  else if (segments[0] === 'apis') rest = segments.slice(3);
  else return { verb: method.toLowerCase(), resource: pathname };
  // namespaces/<ns>/<resource>... is a namespaced resource; namespaces/<ns> alone is the namespace itself.
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = '', name, subresource] = rest;
  const named = name !== undefined;
  const verbs: Record<string, string> = {
    GET: new URLSearchParams(query).get('watch') === 'true' ? 'watch' : named ? 'get' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: named ? 'delete' : 'deletecollection',
  };
  return { verb: verbs[method] ?? method.toLowerCase(), resource: subresource ? `${resource}/${subresource}` : resource };
}

// ---- Small helpers ---------------------------------------------------------------------------------

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

function checkRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`fault rate must be between 0 and 1, not ${rate}`);
  return rate;
}

function checkKinds(kinds: readonly FaultKind[]): readonly FaultKind[] {
  const unknown = kinds.filter((kind) => !FAULT_KINDS.includes(kind));
  if (unknown.length > 0) throw new Error(`unknown fault kinds ${unknown.join(', ')}: use ${FAULT_KINDS.join(', ')}`);
  return [...kinds];
}

/** A small seeded PRNG (mulberry32): uniform in [0, 1), the same sequence for the same seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with openssl (Node can sign but not
 * build an X.509 certificate). The key and certificate are written in `dir`.
 */
function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const keyFile = path.join(dir, 'tls.key');
  const certFile = path.join(dir, 'tls.crt');
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=p0 fault proxy',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl could not make the fault proxy's TLS certificate: ${stderr || (error as Error).message}`, { cause: error });
  }
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}
