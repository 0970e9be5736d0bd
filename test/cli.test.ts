/**
 * The `p0` command line, run as the real binary (node bin/p0.js, a child process) against the real
 * API, worker and Temporal dev server: login and its config file, the catalog, request --wait to each
 * exit code, relinquish, JSON output, and the errors a user sees (never a stack trace).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { insecureHttpRefusal } from '../cli/config';
import { parseRequestWords, RequestGrammarError } from '../shared/requestGrammar';
import type { RequestView } from '../shared/request';
import { assertApiError } from './support/apiErrors';
import { CliHome, type CliResult } from './support/cliProcess';
import { Harness } from './support/harness';
import { ensureCatalogObjects, newRequester } from './support/iam';
import { freePort } from './support/net';

const BOB = 'bob@example.com'; // approver (sre)
const REQUEST_ID = /req_[0-9A-Z]{26}/;
const UNKNOWN_ID = 'req_01ARZ3NDEKTSV4RRFFQ69G5FAV';

/** No stack trace ever reaches the user. */
function assertNoStack(result: CliResult): void {
  assert.doesNotMatch(result.stderr, /^\s+at /m, `stack trace in stderr:\n${result.stderr}`);
  assert.doesNotMatch(result.stdout, /^\s+at /m, `stack trace in stdout:\n${result.stdout}`);
}

function grammarMessage(words: string[]): string {
  try {
    parseRequestWords(words);
  } catch (error) {
    assert.ok(error instanceof RequestGrammarError);
    return error.message;
  }
  assert.fail(`parseRequestWords accepted ${JSON.stringify(words)}`);
}

describe('p0 CLI', function () {
  this.timeout(120_000);
  let h: Harness;
  let home: CliHome;

  before(async () => {
    h = await Harness.start();
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());
  beforeEach(() => {
    home = new CliHome();
  });
  afterEach(() => home.remove());

  /** The environment of a logged-in requester, without touching the config file. */
  async function as(email: string): Promise<{ env: Record<string, string> }> {
    return { env: { P0_API_URL: h.apiUrl, P0_TOKEN: await h.token(email) } };
  }

  describe('login', () => {
    it('verifies the token, stores URL and token with mode 0600, and later commands use them; logout revokes it', async () => {
      // A token of its own: logout revokes it at the server.
      const token = await h.token('login-test@example.com');
      const login = await home.run(['login', '--url', `${h.apiUrl}/`, '--token', token]);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+/);
      assert.ok(login.stdout.includes(home.configFile), login.stdout);

      const stat = fs.statSync(home.configFile);
      assert.equal(stat.mode & 0o777, 0o600);
      assert.equal(fs.statSync(home.configHome + '/p0').mode & 0o077, 0, 'the directory is private too');
      assert.deepEqual(JSON.parse(fs.readFileSync(home.configFile, 'utf8')), { apiUrl: h.apiUrl, token });

      const ls = await home.run(['ls']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /Developers/);

      // Logging in again over an existing file keeps it private.
      fs.chmodSync(home.configFile, 0o644);
      assert.equal((await home.run(['login', '--url', h.apiUrl, '--token', token])).code, 0);
      assert.equal(fs.statSync(home.configFile).mode & 0o777, 0o600);

      const logout = await home.run(['logout']);
      assert.equal(logout.code, 0, logout.stderr);
      assert.match(logout.stdout, /revoked it at the server/);
      assert.deepEqual(JSON.parse(fs.readFileSync(home.configFile, 'utf8')), { apiUrl: h.apiUrl });
      // Revoked at the server.
      const revoked = await fetch(`${h.apiUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      assertApiError({ status: revoked.status, body: await revoked.json() }, 'unauthenticated');
      const afterLogout = await home.run(['ls']);
      assert.equal(afterLogout.code, 1);
      assert.match(afterLogout.stderr, /run p0 login/);
    });

    it('refuses a bad token and saves nothing; --ask-token without a terminal says how', async () => {
      const bad = await home.run(['login', '--url', h.apiUrl, '--token', 'p0_not-a-real-token']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^p0: the p0 API at .* refused this token/);
      assertNoStack(bad);
      assert.equal(fs.existsSync(home.configFile), false);

      const noToken = await home.run(['login', '--url', h.apiUrl, '--ask-token']);
      assert.equal(noToken.code, 1);
      assert.match(noToken.stderr, /^p0: no token: give it with p0 login --token TOKEN/);
    });
  });

  describe('errors a user sees', () => {
    it('a bad token says "run p0 login", with no stack trace', async () => {
      const result = await home.run(['ls'], { env: { P0_API_URL: h.apiUrl, P0_TOKEN: 'p0_expired-or-wrong' } });
      assert.equal(result.code, 1);
      assert.equal(result.stderr, 'p0: Your token is missing, invalid or expired: run p0 login (or fix P0_TOKEN, which overrides the stored token)\n');
      assert.equal(result.stdout, '');
      assertNoStack(result);

      // The same with a stored token that has since been revoked or mistyped.
      fs.mkdirSync(path.dirname(home.configFile), { recursive: true });
      fs.writeFileSync(home.configFile, JSON.stringify({ apiUrl: h.apiUrl, token: 'p0_revoked' }));
      const stored = await home.run(['requests', '--mine']);
      assert.equal(stored.code, 1);
      assert.equal(stored.stderr, 'p0: Your token is missing, invalid or expired: run p0 login\n');
      assertNoStack(stored);
    });

    it('an API that is not running is named, with how to point p0 elsewhere', async () => {
      const port = await freePort();
      const result = await home.run(['ls'], { env: { P0_API_URL: `http://127.0.0.1:${port}`, P0_TOKEN: 'p0_x' } });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`^p0: cannot reach the p0 API at http://127\\.0\\.0\\.1:${port} .*is it running\\? \\(p0 login --url`));
      assertNoStack(result);
    });

    it('an unknown resource gives the quickstart\'s "This resource doesn\'t exist"', async () => {
      const result = await home.run(['request', 'aws', 'role', 'NoSuchThing', '--reason', 'x'], await as('carol@example.com'));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^p0: This resource doesn't exist/);
      assertNoStack(result);
    });

    it('grammar mistakes give exactly the message of parseRequestWords (the one Slack gives)', async () => {
      const cases = [
        ['aws', 'group', 'Developers', '--duration', '2', 'hours'],
        ['aws', 'group', 'Developers', '--reason'],
        ['aws', 'group', 'Developers', '--colour', 'blue'],
        ['aws', 'group'],
        ['aws', 'group', 'Developers', '--reason', 'deploy', 'hotfix'],
        ['aws', 'group', 'Developers', '--timeout', '5m'],
      ];
      for (const words of cases) {
        const result = await home.run(['request', ...words], await as('carol@example.com'));
        assert.equal(result.code, 1, words.join(' '));
        assert.equal(result.stderr, `p0: ${grammarMessage(words)}\n`, words.join(' '));
        assertNoStack(result);
      }
      assert.match(grammarMessage(cases[0]!), /--duration: "2 hours" is not a duration/);
    });

    it('an unknown request id gives the server\'s message', async () => {
      const result = await home.run(['status', UNKNOWN_ID], await as('carol@example.com'));
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^p0: .*req_01ARZ3NDEKTSV4RRFFQ69G5FAV/);
      assertNoStack(result);
    });

    it('usage mistakes are one p0: line and exit 1', async () => {
      const result = await home.run(['frobnicate']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^p0: unknown command 'frobnicate'/);
      assertNoStack(result);
    });
  });

  describe('the catalog', () => {
    it('p0 ls prints an aligned table, filters, and --json parses', async () => {
      const env = await as('carol@example.com');
      const table = await home.run(['ls'], env);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trimEnd().split('\n');
      // resource and level come from the catalog's sections; a flat config puts everything in `default`.
      assert.match(lines[0]!, /^PROVIDER\s+RESOURCE\s+LEVEL\s+KIND\s+TARGET\s+DEFAULT\s+RANGE\s+APPROVALS$/);
      assert.equal(lines.length, 5);
      const targetColumn = lines[0]!.indexOf('TARGET');
      for (const line of lines.slice(1)) assert.match(line.slice(targetColumn), /^(AdminRole|NoSuchRole|ReadOnlyAccess|Developers) /);

      const json = await home.run(['ls', 'aws', 'group', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const { resources } = JSON.parse(json.stdout) as { resources: Array<{ provider: string; kind: string; target: string; maxDuration: string }> };
      assert.deepEqual(resources.map((entry) => `${entry.provider} ${entry.kind} ${entry.target}`), ['aws group Developers']);
      assert.equal(resources[0]!.maxDuration, '1h');

      const like = JSON.parse((await home.run(['ls', '--like', 'admin', '--json'], env)).stdout) as { resources: Array<{ target: string }> };
      assert.deepEqual(like.resources.map((entry) => entry.target), ['AdminRole']);
    });
  });

  describe('request --wait', () => {
    it('reaches active and exits 0, printing the id first and who approved', async () => {
      const { email } = await newRequester(h.iam);
      const cli = home.start(['request', 'aws', 'group', 'Developers', '--reason', 'debug INC-42', '--duration', '3s', '--wait'], await as(email));
      const [id] = await cli.waitForOutput(REQUEST_ID);
      const firstLine = (await cli.waitForOutput(/^.*\n/))[0];
      assert.ok(firstLine.includes(id), `the first line names the request: ${firstLine}`);
      const approved = await h.act(BOB, id, 'approve', 'go ahead');
      assert.equal(approved.status, 200, JSON.stringify(approved.body));

      const result = await cli.exited;
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.equal(result.stderr, '');
      const lines = result.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, new RegExp(`^${id} requested: aws group Developers for 3s`));
      assert.ok(lines.includes(`${id} approved by ${BOB}`), result.stdout);
      assert.match(lines.at(-1)!, new RegExp(`^${id} aws group Developers is active until \\d\\d:\\d\\d:\\d\\d \\(3s\\)$`));
      // Active means verified usable: the server says so too.
      const view = await h.call<{ request: RequestView }>(email, 'GET', `/v1/requests/${id}`);
      assert.ok(['active', 'expired'].includes(view.body.request.status));
      assert.ok(view.body.request.activeAt);
    });

    it('exits 2 when denied, saying by whom and why', async () => {
      const { email } = await newRequester(h.iam);
      const cli = home.start(['request', 'aws', 'group', 'Developers', '--reason', 'x', '--duration', '1m', '--wait'], await as(email));
      const [id] = await cli.waitForOutput(REQUEST_ID);
      const denied = await h.act(BOB, id, 'deny', 'use the read-only role');
      assert.equal(denied.status, 200, JSON.stringify(denied.body));
      const result = await cli.exited;
      assert.equal(result.code, 2, result.stderr + result.stdout);
      assert.equal(result.stderr, `p0: ${id} denied by ${BOB}: "use the read-only role"\n`);
    });

    it('exits 4 when --timeout passes with nobody deciding; the request goes on and p0 cancel ends it', async () => {
      const { email } = await newRequester(h.iam);
      const env = await as(email);
      const started = Date.now();
      const result = await home.run(['request', 'aws', 'group', 'Developers', '--reason', 'x', '--duration', '1m', '--wait', '--timeout', '2s'], env);
      assert.equal(result.code, 4, result.stderr + result.stdout);
      assert.ok(Date.now() - started >= 2000);
      const id = REQUEST_ID.exec(result.stdout)![0];
      assert.match(result.stderr, new RegExp(`^p0: stopped waiting after \\d+s: ${id} is still pending and goes on`));

      // p0 status --wait picks it up again, with the same exit codes.
      const again = await home.run(['status', id, '--wait', '--timeout', '1s'], env);
      assert.equal(again.code, 4, again.stderr);
      assert.match(again.stdout, new RegExp(`^${id} following: aws group Developers for 1m\n`));

      const cancel = await home.run(['cancel', id, '--reason', 'not needed'], env);
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.match(cancel.stdout, new RegExp(`^${id} aws group Developers: cancelled by ${email.replace(/[.]/g, '\\.')}: "not needed"`));
    });

    it('with --json prints one JSON document on stdout (progress on stderr)', async () => {
      const { email } = await newRequester(h.iam);
      const cli = home.start(['request', 'aws', 'group', 'Developers', '--reason', 'x', '--duration', '1m', '--wait', '--timeout', '1m', '--json'], await as(email));
      const [id] = await cli.waitForOutput(REQUEST_ID);
      assert.equal(cli.stdout, '', 'nothing on stdout until the end');
      await h.act(BOB, id, 'approve');
      const result = await cli.exited;
      assert.equal(result.code, 0, result.stderr);
      const { request } = JSON.parse(result.stdout) as { request: RequestView };
      assert.equal(request.id, id);
      assert.equal(request.status, 'active');
      await h.act(email, id, 'relinquish');
    });

    it('gives up with a clear message (exit 1) when the API goes away while waiting', async () => {
      const { email } = await newRequester(h.iam);
      const proxy = await tcpProxyTo(h.apiUrl);
      const cli = home.start(['request', 'aws', 'group', 'Developers', '--reason', 'x', '--duration', '1m', '--wait'], {
        env: { P0_API_URL: proxy.url, P0_TOKEN: await h.token(email) },
      });
      const [id] = await cli.waitForOutput(REQUEST_ID);
      await proxy.close();
      const result = await cli.exited;
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stdout, /retrying \(1\/4\)/);
      assert.match(result.stderr, new RegExp(`^p0: lost contact with the p0 API while waiting for ${id}: cannot reach the p0 API at ${proxy.url.replace(/[.]/g, '\\.')}`));
      assert.match(result.stderr, new RegExp(`The request goes on: see it with p0 status ${id}`));
      assertNoStack(result);
      await h.act(email, id, 'cancel');
    });
  });

  describe('one request from start to end', () => {
    it('request --json, requests, approve, status --json, relinquish', async () => {
      const { email } = await newRequester(h.iam);
      const env = await as(email);
      const created = await home.run(['request', 'aws', 'role', 'AdminRole', '--reason=deploy hotfix', '--duration=10m', '--json'], env);
      assert.equal(created.code, 0, created.stderr);
      const { request } = JSON.parse(created.stdout) as { request: RequestView };
      assert.equal(request.status, 'pending');
      assert.equal(request.reason, 'deploy hotfix');
      assert.equal(request.duration, '10m');

      const bob = await as(BOB);
      const pending = await home.run(['requests', '--pending-approval', '--json'], bob);
      assert.ok((JSON.parse(pending.stdout) as { requests: RequestView[] }).requests.some((view) => view.id === request.id));
      const table = await home.run(['requests', '--pending-approval'], bob);
      assert.match(table.stdout, /^ID\s+STATUS\s+ACCESS\s+REQUESTER/);
      assert.match(table.stdout, new RegExp(`${request.id}\\s+pending\\s+aws role AdminRole\\s+`));

      const approve = await home.run(['approve', request.id, '--comment', 'ok'], bob);
      assert.equal(approve.code, 0, approve.stderr);
      assert.match(approve.stdout, new RegExp(`^${request.id} aws role AdminRole: (approved|pending|active)`));
      await h.waitFor(email, request.id, ['active']);

      const status = await home.run(['status', request.id, '--json'], env);
      assert.equal(status.code, 0, status.stderr);
      const active = (JSON.parse(status.stdout) as { request: RequestView }).request;
      assert.equal(active.status, 'active');
      assert.deepEqual(active.approvals.map((approval) => [approval.by, approval.comment]), [[BOB, 'ok']]);
      const details = await home.run(['status', request.id], env);
      assert.match(details.stdout, new RegExp(`^${request.id}  active until `));
      assert.match(details.stdout, /\n {2}access +aws role AdminRole\n/);
      assert.match(details.stdout, /\n {2}approved +bob@example\.com at .* "ok"\n/);

      // More time: the requester asks, an approver approves the extension, the expiry moves.
      const extend = await home.run(['extend', request.id, '--duration', '5m', '--reason', 'migration still running'], env);
      assert.equal(extend.code, 0, extend.stderr);
      assert.match(extend.stdout, new RegExp(`^${request.id} aws role AdminRole: active until .*; extension of 5m \\((ext-\\d+)\\) waiting for approval\n$`));
      const extensionId = /\((ext-\d+)\)/.exec(extend.stdout)![1]!;
      // Approving without naming the extension is refused: the approver may have meant the request.
      const unnamed = await home.run(['approve', request.id], bob);
      assert.equal(unnamed.code, 1);
      assert.match(unnamed.stderr, new RegExp(`now asks for an extension of 5m \\(${extensionId}\\)`));
      const extensionApproved = await home.run(['approve', request.id, '--extension', extensionId], bob);
      assert.equal(extensionApproved.code, 0, extensionApproved.stderr);
      const extended = (JSON.parse((await home.run(['status', request.id, '--json'], env)).stdout) as { request: RequestView }).request;
      assert.equal(Date.parse(extended.expiresAt!) - Date.parse(active.expiresAt!), 5 * 60_000);
      assert.match((await home.run(['status', request.id], env)).stdout, /\n {2}extended +\+5m by bob@example\.com at /);
      const badDuration = await home.run(['extend', request.id, '--duration', '5 minutes'], env);
      assert.equal(badDuration.code, 1);
      assert.match(badDuration.stderr, /^p0: --duration: "5 minutes" is not a duration/);

      const mine = JSON.parse((await home.run(['requests', '--mine', '--json'], env)).stdout) as { requests: RequestView[] };
      assert.deepEqual(mine.requests.map((view) => view.id), [request.id]);

      const relinquish = await home.run(['relinquish', request.id], env);
      assert.equal(relinquish.code, 0, relinquish.stderr);
      assert.match(relinquish.stdout, new RegExp(`^${request.id} aws role AdminRole: relinquished by `));
      const ended = await h.call<{ request: RequestView }>(email, 'GET', `/v1/requests/${request.id}`);
      assert.equal(ended.body.request.status, 'relinquished');

      const again = await home.run(['relinquish', request.id], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^p0: \S.*\n$/, 'a conflict is one line, the server\'s message');
    });
  });

  describe('help and completion', () => {
    it('every command has --help with examples', async () => {
      const commands = ['login', 'logout', 'ls', 'request', 'status', 'requests', 'approve', 'deny', 'cancel', 'relinquish', 'revoke', 'review', 'extend', 'reconcile', 'completion'];
      const top = await home.run(['--help']);
      assert.equal(top.code, 0);
      for (const command of commands) assert.match(top.stdout, new RegExp(`^  ${command}\\b`, 'm'), command);
      const helps = await Promise.all(commands.map((command) => home.run([command, '--help'])));
      helps.forEach((help, index) => {
        assert.equal(help.code, 0, commands[index]);
        assert.match(help.stdout, /\nExamples:\n {2}/, commands[index]);
      });
      const requestHelp = helps[commands.indexOf('request')]!.stdout;
      for (const option of ['--reason', '--duration', '--wait', '--timeout', '--json', '--account']) assert.ok(requestHelp.includes(option), option);
      // --help among the request words still means help.
      const late = await home.run(['request', 'aws', 'role', 'AdminRole', '--help']);
      assert.equal(late.code, 0);
      assert.match(late.stdout, /^Usage: p0 request <provider> <kind> <target> \[options\]/);
    });

    it('prints bash and zsh completion scripts, which complete from the catalog', async () => {
      const bash = await home.run(['completion', 'bash']);
      assert.equal(bash.code, 0);
      assert.match(bash.stdout, /complete -F _p0_complete p0/);
      const zsh = await home.run(['completion', 'zsh']);
      assert.match(zsh.stdout, /^#compdef p0/);
      assert.match(zsh.stdout, /bashcompinit/);

      const env = await as('carol@example.com');
      const kinds = await home.run(['__complete', 'request', 'aws'], env);
      assert.deepEqual(kinds.stdout.trim().split('\n'), ['group', 'policy', 'role']);
      const targets = await home.run(['__complete', 'request', '--reason', 'x', 'aws', 'role'], env);
      assert.deepEqual(targets.stdout.trim().split('\n'), ['AdminRole', 'NoSuchRole']);
    });
  });
});

describe('p0 CLI over plain http', function () {
  this.timeout(60_000);
  let home: CliHome;
  let api: FakeApi;

  before(async () => {
    api = await fakeApiOnNetwork();
  });
  after(() => api?.close());
  beforeEach(() => {
    home = new CliHome();
    api.authorizations.length = 0;
  });
  afterEach(() => home.remove());

  it('never sends the token over http:// to a host that is not loopback, unless told to (--insecure-http, stored; or P0_ALLOW_INSECURE_HTTP=1)', async () => {
    const token = 'p0_secret-token';
    const refused = await home.run(['login', '--url', api.url, '--token', token]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `p0: refusing to send your token over plain http to ${api.url} (not this machine): anyone on the network path could read it. Use https://, or, on a network you trust, p0 login --insecure-http (or P0_ALLOW_INSECURE_HTTP=1)\n`,
    );
    assertNoStack(refused);
    assert.equal(fs.existsSync(home.configFile), false, 'nothing saved');
    const fromEnv = await home.run(['ls'], { env: { P0_API_URL: api.url, P0_TOKEN: token } });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /^p0: refusing to send your token over plain http/);
    assert.deepEqual(api.authorizations, [], 'the token never left the machine');

    const allowed = await home.run(['login', '--url', api.url, '--token', token, '--insecure-http']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stderr, /warning: the token travels over plain http/);
    assert.deepEqual(JSON.parse(fs.readFileSync(home.configFile, 'utf8')), { apiUrl: api.url, token, insecureHttp: true });
    const later = await home.run(['ls']);
    assert.equal(later.code, 0, later.stderr);
    // The stored permission is for the stored URL only, not for another one given in P0_API_URL.
    const elsewhere = await home.run(['ls'], { env: { P0_API_URL: api.url.replace(/:(\d+)$/, (_m, port: string) => `:${Number(port) + 1}`) } });
    assert.match(elsewhere.stderr, /^p0: refusing to send your token over plain http/);

    const byEnv = await home.run(['ls'], { env: { P0_API_URL: api.url, P0_TOKEN: token, P0_ALLOW_INSECURE_HTTP: '1', XDG_CONFIG_HOME: `${home.dir}/elsewhere` } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.ok(api.authorizations.length >= 3 && api.authorizations.every((header) => header === `Bearer ${token}`));

    // Logging in again without the flag takes the permission back.
    const again = await home.run(['login', '--url', api.url, '--token', token]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^p0: refusing to send your token over plain http/);
  });

  it('talks plain http to loopback (127.0.0.0/8, localhost, [::1]) without being told', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://127.1.2.3:8080', 'http://localhost:8080', 'http://[::1]:8080', 'https://p0.example.com']) {
      assert.equal(insecureHttpRefusal({ apiUrl: url }), undefined, url);
    }
    for (const url of ['http://p0.example.com', 'http://10.0.0.5:8080', 'http://[fd00::2]:8080', 'http://127.0.0.1.example.com']) {
      assert.match(insecureHttpRefusal({ apiUrl: url }) ?? '', /refusing/, url);
    }
  });
});

interface FakeApi {
  url: string;
  /** Every Authorization header it received. */
  authorizations: string[];
  close(): Promise<void>;
}

/**
 * A stand-in for the API on this machine's first non-loopback address (what another host on the
 * network would be): answers /v1/me and /v1/resources, and records the Authorization headers.
 */
async function fakeApiOnNetwork(): Promise<FakeApi> {
  const address = Object.values(os.networkInterfaces())
    .flat()
    .find((candidate) => candidate && !candidate.internal && candidate.family === 'IPv4')?.address;
  assert.ok(address, 'this test needs a non-loopback IPv4 address on the machine');
  const authorizations: string[] = [];
  const server = http.createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/me') return res.end(JSON.stringify({ user: { email: 'alice@example.com', admin: false } }));
    if (req.url === '/v1/resources') return res.end(JSON.stringify({ resources: [] }));
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'No such route' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://${address}:${port}`,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A TCP relay to the API that the test can pull away mid-request, as a network outage would. */
async function tcpProxyTo(apiUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(apiUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
