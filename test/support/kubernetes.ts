/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver v1.31.4 on free loopback ports,
 * token authentication, RBAC authorization, service-account keys generated in a temp dir. No
 * controllers run (so aggregated ClusterRoles such as `view` stay empty: tests create explicit
 * roles). One per test run, started on first use and killed at stop or when the process exits. The
 * binaries come from scripts/ensure-kube-apiserver.sh (built once into the tool cache); a machine
 * without them fails the tests that need Kubernetes, it never skips them.
 *
 * The product talks to it as the token user `p0-jit`, which starts with no RBAC at all: each test
 * file calls grantProduct(config) with its config, which applies exactly what `npm run k8s-rbac`
 * prints for that catalog, so the RBAC operators are told to apply is what is tested.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import YAML from 'yaml';
import { freePort } from './net';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 3;
/** The context name in the product's kubeconfig (a catalog resource's `context`). */
export const TEST_CONTEXT = 'p0-test';

/** The token users the API server knows. */
export const KUBE_USERS = {
  /** In system:masters: sets up namespaces, roles and bindings for the tests. */
  admin: 'p0-test-admin',
  /** The product itself, with only the RBAC docs/kubernetes.md asks for. */
  product: 'p0-jit',
  alice: 'alice@example.com',
  /** A user whose name carries an OIDC-style prefix (`k8s.subject.prefix: 'oidc:'`). */
  erin: 'oidc:erin@example.com',
} as const;
export type KubeUser = (typeof KUBE_USERS)[keyof typeof KUBE_USERS];

export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  authorization: AuthorizationV1Api;
}

export interface RunningKubernetes {
  /** `https://127.0.0.1:<port>` */
  server: string;
  /** A kubeconfig for the product (user p0-jit), with one context named TEST_CONTEXT. */
  productKubeconfig: string;
  /** API clients authenticated as one of KUBE_USERS (the product's own come from its kubeconfig). */
  as(user: KubeUser): KubeClients;
  /**
   * Gives the product exactly the RBAC `npm run k8s-rbac -- --user p0-jit` prints for this config
   * (applied as admin, replacing what an earlier test file applied). Objects for a namespace that
   * does not exist cannot be applied (kubectl apply refuses them too) and are returned instead.
   */
  grantProduct(configText: string): Promise<{ skipped: string[] }>;
  stop(): Promise<void>;
}

let shared: Promise<RunningKubernetes> | undefined;

/** One control plane for the whole run; tests keep apart by using their own namespaces. */
export function sharedKubernetes(): Promise<RunningKubernetes> {
  shared ??= startKubernetes();
  return shared;
}

/** kube-apiserver and etcd, from `$KUBE_APISERVER`/`$ETCD` or scripts/ensure-kube-apiserver.sh (once per process). */
let binaries: Promise<{ apiserver: string; etcd: string }> | undefined;
function kubernetesBinaries(): Promise<{ apiserver: string; etcd: string }> {
  binaries ??= (async () => {
    const script = path.join(REPO_ROOT, 'scripts', 'ensure-kube-apiserver.sh');
    try {
      const { stdout } = await execFileAsync('bash', [script], { maxBuffer: 1 << 20, timeout: 30 * 60_000 });
      const [apiserver, etcd] = stdout.trim().split('\n').slice(-2);
      if (!apiserver || !etcd) throw new Error(`expected two paths, got: ${stdout}`);
      return { apiserver, etcd };
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new Error(`Kubernetes is not available for the tests: ${stderr || (error as Error).message}`, { cause: error });
    }
  })();
  return binaries;
}

export async function startKubernetes(): Promise<RunningKubernetes> {
  const { apiserver, etcd } = await kubernetesBinaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-kube-'));
  const tokens = Object.fromEntries(Object.values(KUBE_USERS).map((user) => [user, randomBytes(24).toString('hex')])) as Record<KubeUser, string>;
  writeStaticFiles(dir, tokens);

  const children: ChildProcess[] = [];
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', stopNow);
    // Throwaway state: nothing to shut down gracefully.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Synchronous, so it also runs when mocha ends the process with process.exit.
  process.once('exit', stopNow);

  try {
    let started: { server: string; caFile: string } | undefined;
    let lastError: unknown;
    // A free port can be taken between choosing it and binding it: try again on fresh ports.
    for (let attempt = 1; attempt <= START_ATTEMPTS && !started; attempt++) {
      for (const child of children.splice(0)) child.kill('SIGKILL');
      try {
        const etcdUrl = await startEtcd(etcd, dir, attempt, children);
        started = await startApiServer(apiserver, dir, attempt, etcdUrl, tokens[KUBE_USERS.admin], children);
      } catch (error) {
        lastError = error;
      }
    }
    if (!started) throw lastError;
    const { server, caFile } = started;
    const kubeconfigFor = (user: KubeUser) => kubeConfigFor(server, caFile, user, tokens[user]);
    const productKubeconfig = path.join(dir, 'product.kubeconfig');
    fs.writeFileSync(productKubeconfig, kubeconfigFor(KUBE_USERS.product).exportConfig());
    const as = (user: KubeUser): KubeClients => {
      const config = kubeconfigFor(user);
      return {
        config,
        core: config.makeApiClient(CoreV1Api),
        rbac: config.makeApiClient(RbacAuthorizationV1Api),
        authorization: config.makeApiClient(AuthorizationV1Api),
      };
    };
    return { server, productKubeconfig, as, grantProduct: (configText) => grantProductRbac(as(KUBE_USERS.admin).rbac, dir, configText), stop: () => Promise.resolve(stopNow()) };
  } catch (error) {
    stopNow();
    throw error;
  }
}

function writeStaticFiles(dir: string, tokens: Record<KubeUser, string>): void {
  // The token file: token,user,uid,"group1,group2".
  const lines = Object.values(KUBE_USERS).map((user) => {
    const groups = user === KUBE_USERS.admin ? ',"system:masters"' : '';
    return `${tokens[user]},${user},${user}${groups}`;
  });
  fs.writeFileSync(path.join(dir, 'tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  // Service-account tokens are signed with this key (the API server refuses to start without one).
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
}

async function startEtcd(binary: string, dir: string, attempt: number, children: ChildProcess[]): Promise<string> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dataDir = path.join(dir, `etcd-${attempt}`);
  const logFile = path.join(dir, `etcd-${attempt}.log`);
  const child = spawnLogged(binary, [
    '--name', 'p0-test',
    '--data-dir', dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `p0-test=${peerUrl}`,
    '--logger', 'zap',
    '--log-level', 'warn',
  ], logFile, children);
  await waitFor('etcd', child, logFile, async () => {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { health?: string };
    return body.health === 'true';
  });
  return clientUrl;
}

async function startApiServer(
  binary: string,
  dir: string,
  attempt: number,
  etcdUrl: string,
  adminToken: string,
  children: ChildProcess[],
): Promise<{ server: string; caFile: string }> {
  const port = await freePort();
  const certDir = path.join(dir, `certs-${attempt}`);
  const logFile = path.join(dir, `kube-apiserver-${attempt}.log`);
  const child = spawnLogged(binary, [
    '--etcd-servers', etcdUrl,
    '--bind-address', '127.0.0.1',
    '--advertise-address', '127.0.0.1',
    '--secure-port', String(port),
    // With no certificate given it makes a CA and a serving certificate for 127.0.0.1 here.
    '--cert-dir', certDir,
    '--token-auth-file', path.join(dir, 'tokens.csv'),
    '--authorization-mode', 'RBAC',
    '--service-account-key-file', path.join(dir, 'sa.pub'),
    '--service-account-signing-key-file', path.join(dir, 'sa.key'),
    '--service-account-issuer', 'https://kubernetes.default.svc',
    '--service-cluster-ip-range', '10.0.0.0/24',
    // No controller manager creates the `default` service account this admission plugin waits for.
    '--disable-admission-plugins', 'ServiceAccount',
  ], logFile, children);
  // apiserver.crt holds the serving certificate followed by the CA that signed it.
  const caFile = path.join(certDir, 'apiserver.crt');
  await waitFor('kube-apiserver', child, logFile, async () => {
    if (!fs.existsSync(caFile)) return false;
    return (await httpsGet(`https://127.0.0.1:${port}/readyz`, fs.readFileSync(caFile), adminToken)) === 200;
  });
  return { server: `https://127.0.0.1:${port}`, caFile };
}

function spawnLogged(binary: string, args: string[], logFile: string, children: ChildProcess[]): ChildProcess {
  const log = fs.openSync(logFile, 'w');
  const child = spawn(binary, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  // A forgotten stop() must not hold the test process open; the exit hook still kills it.
  child.unref();
  children.push(child);
  return child;
}

async function waitFor(what: string, child: ChildProcess, logFile: string, ready: () => Promise<boolean>): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  child.once('error', (error) => (exited = error.message));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new Error(`${what} ${exited} during start-up:\n${logTail(logFile)}`);
    try {
      if (await ready()) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${READY_TIMEOUT_MS} ms:\n${logTail(logFile)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function httpsGet(url: string, ca: Buffer, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

function logTail(logFile: string): string {
  try {
    return fs.readFileSync(logFile, 'utf8').slice(-4_000);
  } catch {
    return '(no log)';
  }
}

function kubeConfigFor(server: string, caFile: string, user: string, token: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'p0-test', server, caFile, skipTLSVerify: false }],
    users: [{ name: user, token }],
    contexts: [{ name: TEST_CONTEXT, cluster: 'p0-test', user }],
    currentContext: TEST_CONTEXT,
  });
  return config;
}

/** What `npm run k8s-rbac` prints for the config, for the product's token user. */
export async function productRbacYaml(configText: string, dir = os.tmpdir()): Promise<string> {
  const configFile = path.join(fs.mkdtempSync(path.join(dir, 'rbac-')), 'p0.yaml');
  fs.writeFileSync(configFile, configText);
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'k8s-rbac.ts'), '--config', configFile, '--user', KUBE_USERS.product], {
      cwd: REPO_ROOT,
      maxBuffer: 1 << 20,
    });
    return stdout;
  } finally {
    fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
  }
}

async function grantProductRbac(adminRbac: RbacAuthorizationV1Api, dir: string, configText: string): Promise<{ skipped: string[] }> {
  const skipped: string[] = [];
  const yaml = await productRbacYaml(configText, dir);
  for (const document of YAML.parseAllDocuments(yaml)) {
    const object = document.toJSON() as (V1ClusterRole & V1ClusterRoleBinding & V1Role & V1RoleBinding) | null;
    if (!object) continue;
    const name = object.metadata!.name!;
    const namespace = object.metadata!.namespace!;
    const calls = {
      ClusterRole: { create: () => adminRbac.createClusterRole({ body: object }), replace: () => adminRbac.replaceClusterRole({ name, body: object }) },
      ClusterRoleBinding: { create: () => adminRbac.createClusterRoleBinding({ body: object }), replace: () => adminRbac.replaceClusterRoleBinding({ name, body: object }) },
      Role: { create: () => adminRbac.createNamespacedRole({ namespace, body: object }), replace: () => adminRbac.replaceNamespacedRole({ name, namespace, body: object }) },
      RoleBinding: { create: () => adminRbac.createNamespacedRoleBinding({ namespace, body: object }), replace: () => adminRbac.replaceNamespacedRoleBinding({ name, namespace, body: object }) },
    }[object.kind as 'ClusterRole' | 'ClusterRoleBinding' | 'Role' | 'RoleBinding'];
    if (!calls) throw new Error(`npm run k8s-rbac printed a ${object.kind}`);
    try {
      await calls.create();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === 409) await calls.replace();
      else if (code === 404 && namespace) skipped.push(`${object.kind} ${name} in namespace ${namespace}`);
      else throw error;
    }
  }
  return { skipped };
}
