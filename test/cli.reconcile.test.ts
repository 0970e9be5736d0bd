/**
 * `p0 reconcile` and `p0 reconcile events`, run as the real binary against the real API, worker and
 * Temporal dev server, with orphans made in moto the way test/reconcile.test.ts makes them (an inline
 * policy named `p0-<requestId>` that no request holds). The AWS provider is wrapped so a test can make
 * one removal fail, or the listing fail, and see exit code 3.
 */
import assert from 'node:assert/strict';
import { PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { ApplicationFailure } from '@temporalio/common';
import type { ReconcileAnswer, ReconcileEventsAnswer } from '../shared/api';
import { CliHome, type CliResult } from './support/cliProcess';
import { Harness } from './support/harness';
import { ensureCatalogObjects, holdings, newRequester } from './support/iam';

const ADMIN = 'sec@example.com'; // admin by the test config's `admins`
const CAROL = 'carol@example.com'; // nobody special
const ALLOW_NOTHING = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:Nothing', Resource: '*' }] });

function assertNoStack(result: CliResult): void {
  assert.doesNotMatch(result.stderr, /^\s+at /m, `stack trace in stderr:\n${result.stderr}`);
  assert.doesNotMatch(result.stdout, /^\s+at /m, `stack trace in stdout:\n${result.stdout}`);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('p0 reconcile', function () {
  this.timeout(120_000);
  let h: Harness;
  let home: CliHome;
  /** What the wrapped AWS provider should get wrong, set by a test and cleared after it. */
  const faults: { failRemovalOf?: string; failListing?: boolean } = {};

  before(async () => {
    h = await Harness.start(undefined, {
      wrapProvider: (provider) => ({
        name: provider.name,
        propagation: provider.propagation,
        inspect: (spec) => provider.inspect(spec),
        grant: (spec) => provider.grant(spec),
        revoke: (spec) => provider.revoke(spec),
        isGranted: (spec) => provider.isGranted(spec),
        listMarked: () => (faults.failListing ? Promise.reject(new Error('AccessDenied: iam:ListUsers is not allowed')) : provider.listMarked()),
        removeMarked: (grant) =>
          grant.requestId === faults.failRemovalOf
            ? // Not retryable, so the pass records the failure at once instead of after its retries.
              Promise.reject(ApplicationFailure.nonRetryable('AccessDenied: iam:DeleteUserPolicy is not allowed'))
            : provider.removeMarked(grant),
      }),
    });
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());
  beforeEach(() => {
    home = new CliHome();
  });
  afterEach(() => {
    home.remove();
    delete faults.failRemovalOf;
    delete faults.failListing;
  });

  async function as(email: string): Promise<{ env: Record<string, string> }> {
    return { env: { P0_API_URL: h.apiUrl, P0_TOKEN: await h.token(email) } };
  }

  /** An inline `p0-<requestId>` policy on a fresh IAM user, held by no request. */
  async function makeOrphan(label: string): Promise<{ requestId: string; userName: string; policyName: string }> {
    const { userName } = await newRequester(h.iam, 'cli-reconcile');
    const requestId = `req_${label}${Date.now()}`;
    const policyName = `p0-${requestId}`;
    await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: policyName, PolicyDocument: ALLOW_NOTHING }));
    return { requestId, userName, policyName };
  }

  it('--dry-run lists an orphan and changes nothing; a run removes it; p0 reconcile events shows it', async () => {
    const env = await as(ADMIN);
    const { requestId, userName, policyName } = await makeOrphan('CLIORPHAN');

    const dryRun = await home.run(['reconcile', '--dry-run'], env);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.equal(dryRun.stderr, '');
    const planned = dryRun.stdout.split('\n');
    assert.match(planned[0]!, /^Dry run \(nothing changed\): checked aws at \d\d:\d\d:\d\d$/);
    assert.match(planned[1]!, /^FINDING\s+PROVIDER\s+REQUEST\s+WHAT\s+ACTION$/);
    assert.ok(
      planned.some((line) => new RegExp(`^orphan\\s+aws\\s+${requestId}\\s+IAM user ${escape(userName)}: inline policy ${policyName} \\(role grant\\)\\s+would remove$`).test(line)),
      dryRun.stdout,
    );
    assert.match(dryRun.stdout, /: run p0 reconcile without --dry-run to act on them\.\n$/);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [policyName]);
    const none = await home.run(['reconcile', 'events', '--request', requestId], env);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, `No reconciler findings for ${requestId}\n`, 'a dry run records nothing');

    const run = await home.run(['reconcile'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const runId = /^Checked aws at \d\d:\d\d:\d\d \(run (\S+)\)\n/.exec(run.stdout)?.[1];
    assert.ok(runId, run.stdout);
    assert.match(run.stdout, new RegExp(`\norphan\\s+aws\\s+${requestId}\\s+IAM user ${escape(userName)}: .*\\s+removed\n`));
    assert.match(run.stdout, /\n\d+ orphans?: \d+ removed\.\n$/);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);

    // Everything found was acted on: the next pass finds nothing.
    const clean = await home.run(['reconcile'], env);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, 'Nothing to reconcile: every grant at aws matches a request.\n');

    const events = await home.run(['reconcile', 'events', '--request', requestId], env);
    assert.equal(events.code, 0, events.stderr);
    const [header, row, ...rest] = events.stdout.trimEnd().split('\n');
    assert.match(header!, /^AT\s+FINDING\s+PROVIDER\s+REQUEST\s+WHAT\s+ACTION\s+RUN$/);
    assert.match(row!, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+orphan\\s+aws\\s+${requestId}\\s+IAM user ${escape(userName)}: .*\\s+removed\\s+${escape(runId)}$`));
    assert.deepEqual(rest, []);

    const json = await home.run(['reconcile', 'events', '--request', requestId, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const { events: listed } = JSON.parse(json.stdout) as ReconcileEventsAnswer;
    assert.deepEqual(
      listed.map(({ runId: id, finding, provider, requestId: request, action }) => ({ id, finding, provider, request, action })),
      [{ id: runId, finding: 'orphan', provider: 'aws', request: requestId, action: 'revoked' }],
    );
    const limited = JSON.parse((await home.run(['reconcile', 'events', '--limit', '1', '--json'], env)).stdout) as ReconcileEventsAnswer;
    assert.equal(limited.events.length, 1);
  });

  it('--report-only --json records the orphan and leaves it in place', async () => {
    const env = await as(ADMIN);
    const { requestId, userName, policyName } = await makeOrphan('CLIREPORTED');
    const result = await home.run(['reconcile', '--report-only', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    const { report } = JSON.parse(result.stdout) as ReconcileAnswer;
    assert.equal(report.dryRun, false);
    assert.deepEqual(report.errors, []);
    assert.equal(report.orphans.find((orphan) => orphan.requestId === requestId)?.action, 'reported');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [policyName]);

    const table = await home.run(['reconcile', 'events', '--request', requestId], env);
    assert.match(table.stdout, new RegExp(`\\sorphan\\s+aws\\s+${requestId}\\s+.*\\s+reported, left in place\\s+${escape(report.runId)}\n$`));

    // Cleaned up by a normal pass.
    assert.equal((await home.run(['reconcile'], env)).code, 0);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  });

  it('exits 3 when a removal fails or a provider cannot be checked, and says which', async () => {
    const env = await as(ADMIN);
    const { requestId, userName, policyName } = await makeOrphan('CLIFAILED');
    faults.failRemovalOf = requestId;
    const failed = await home.run(['reconcile'], env);
    assert.equal(failed.code, 3, failed.stderr + failed.stdout);
    assert.match(failed.stdout, /\nFINDING\s+PROVIDER\s+REQUEST\s+WHAT\s+ACTION\s+ERROR\n/);
    assert.match(failed.stdout, new RegExp(`\norphan\\s+aws\\s+${requestId}\\s+.*\\s+removal failed\\s+AccessDenied: iam:DeleteUserPolicy is not allowed\n`));
    assert.equal(failed.stderr, `p0: ${requestId} removal failed (AccessDenied: iam:DeleteUserPolicy is not allowed): the next run tries again\n`);
    assertNoStack(failed);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [policyName]);
    const recorded = JSON.parse((await home.run(['reconcile', 'events', '--request', requestId, '--json'], env)).stdout) as ReconcileEventsAnswer;
    assert.deepEqual(recorded.events.map((event) => [event.action, event.error]), [['revoke_failed', 'AccessDenied: iam:DeleteUserPolicy is not allowed']]);

    delete faults.failRemovalOf;
    faults.failListing = true;
    const unchecked = await home.run(['reconcile', '--dry-run'], env);
    assert.equal(unchecked.code, 3, unchecked.stderr + unchecked.stdout);
    assert.equal(unchecked.stdout, 'Nothing found, but aws could not be checked.\nCould not check:\n  aws: AccessDenied: iam:ListUsers is not allowed\n');
    assert.equal(unchecked.stderr, 'p0: could not check aws: the next run tries again\n');
    const json = await home.run(['reconcile', '--dry-run', '--json'], env);
    assert.equal(json.code, 3);
    assert.deepEqual((JSON.parse(json.stdout) as ReconcileAnswer).report.errors, [{ provider: 'aws', message: 'AccessDenied: iam:ListUsers is not allowed' }]);

    // The next run, with the provider well again, removes it.
    delete faults.failListing;
    const retried = await home.run(['reconcile'], env);
    assert.equal(retried.code, 0, retried.stderr);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  });

  it('refuses a non-admin with the API\'s message, and a bad --limit before asking', async () => {
    const env = await as(CAROL);
    for (const args of [['reconcile'], ['reconcile', '--dry-run'], ['reconcile', 'events']]) {
      const refused = await home.run(args, env);
      assert.equal(refused.code, 1, args.join(' '));
      assert.equal(refused.stderr, 'p0: Only an admin can run the reconciler or read its findings\n', args.join(' '));
      assert.equal(refused.stdout, '');
      assertNoStack(refused);
    }
    const badLimit = await home.run(['reconcile', 'events', '--limit', 'ten'], await as(ADMIN));
    assert.equal(badLimit.code, 1);
    assert.match(badLimit.stderr, /^p0: --limit: "ten" is not a positive whole number\nusage: p0 reconcile events/);
  });

  it('completes the events subcommand and each level\'s options', async () => {
    assert.deepEqual((await home.run(['__complete', 'reconcile'], await as(ADMIN))).stdout, 'events\n');
    const bash = await home.run(['completion', 'bash']);
    assert.match(bash.stdout, /"reconcile"\) p0_options=\(--dry-run --report-only --json --help\)/);
    assert.match(bash.stdout, /"reconcile events"\) p0_options=\(--request --limit --json --help\)/);
  });
});
