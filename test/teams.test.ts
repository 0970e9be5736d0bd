/**
 * The Teams bot end to end: the real CloudAdapter at POST /api/messages in the API's HTTP server,
 * with Bot Framework authentication on against a fake Bot Connector served by the test (OpenID
 * metadata, signing keys endorsed for msteams, the token endpoint, and the connector at the
 * activities' serviceUrl, which checks the bot's outbound token and answers member lookups), the
 * worker's Teams notifier sending and updating cards there, and the real Temporal dev server and
 * moto behind it. Plus the settings, and the Teams store on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { INPUT, VERB } from '../bots/teams/cards';
import { teamsSettingsFromEnv, type TeamsSettings } from '../bots/teams/settings';
import { ChatMessageStore } from '../db/chatMessageStore';
import { openDatabase } from '../db/database';
import { TeamsStore } from '../db/teamsStore';
import { RESOURCE_NOT_FOUND_MESSAGE } from '../service/errors';
import type { RequestView } from '../shared/request';
import { actionOf, cardOf, FAKE_TENANT_ID, FakeTeams, inputOf, postActivity, textOf, verbsOf, type Card, type ConversationSpec, type FakeTeamsUser, type SentActivity } from './support/fakeTeams';
import { Harness } from './support/harness';
import { ensureCatalogObjects, holdings } from './support/iam';
import { createIamUser } from './support/moto';
import { startPostgres, type RunningPostgres } from './support/postgres';
import { chatPolicyYaml } from './support/chatPolicy';

const execFileAsync = promisify(execFile);
const APP_ID = '6f1c0de0-7a11-4b0b-9a0e-000000000b07';
const APP_PASSWORD = 'teams-test-client-secret';

// The requester's email is unique to this run: moto (and its IAM users) is shared by the test files.
const ALICE: FakeTeamsUser = { id: '29:alice', aadObjectId: 'aad-alice', email: `Alice-Teams-${process.pid}@Example.com` };
const ALICE_EMAIL = ALICE.email!.toLowerCase();
const BOB: FakeTeamsUser = { id: '29:bob', aadObjectId: 'aad-bob', userPrincipalName: 'bob@example.com' };
const DANA: FakeTeamsUser = { id: '29:dana', aadObjectId: 'aad-dana', email: 'dana@example.com' };
const CAROL: FakeTeamsUser = { id: '29:carol', aadObjectId: 'aad-carol', email: 'carol@example.com' };
const MALLORY: FakeTeamsUser = { id: '29:mallory', aadObjectId: 'aad-mallory', email: 'mallory@example.com' };
/** A guest who gave their account an approver's address. */
const GUEST: FakeTeamsUser = { id: '29:guest', email: 'bob@example.com', userRole: 'guest' };

const CONFIG = chatPolicyYaml({ requester: ALICE_EMAIL, approvers: ['bob@example.com', 'dana@example.com'] });

describe('Teams bot, end to end with Bot Framework authentication on', function () {
  this.timeout(120_000);
  let fake: FakeTeams;
  let h: Harness;
  let aliceIamUser: string;
  let channel: ConversationSpec;
  let groupChat: ConversationSpec;

  before(async () => {
    fake = await FakeTeams.start({ appId: APP_ID, appPassword: APP_PASSWORD, users: [ALICE, BOB, DANA, CAROL, MALLORY, GUEST] });
    const settings: TeamsSettings = {
      appId: APP_ID,
      appPassword: APP_PASSWORD,
      tenantId: FAKE_TENANT_ID,
      openIdMetadataUrl: fake.openIdMetadataUrl,
      tokenIssuer: 'https://api.botframework.com',
      tokenUrl: fake.tokenUrl,
      // Learned when alice first mentions the bot there.
      approvalsConversationId: '19:general@thread.tacv2',
    };
    h = await Harness.start(CONFIG, { teams: settings });
    channel = fake.channel('19:general@thread.tacv2', '19:general@thread.tacv2');
    groupChat = fake.channel('19:group-chat@thread.v2');
    await ensureCatalogObjects(h.iam);
    aliceIamUser = await createIamUser(h.iam, ALICE_EMAIL, { tag: true });
    // Everyone installs the app: the bot learns their 1:1 chats (and says hello there).
    for (const user of [ALICE, BOB, DANA, CAROL, MALLORY]) {
      const installed = await send(fake.install(user));
      assert.equal(installed.status, 200, installed.raw);
    }
    await fake.waitFor('the welcome messages', () => [ALICE, BOB, DANA, CAROL, MALLORY].every((user) => fake.in(fake.personalConversationId(user)).some((sent) => /request/.test(sent.text ?? ''))));
  });
  after(async () => {
    await h?.stop();
    await fake?.stop();
  });

  const endpoint = () => `${h.apiUrl}/api/messages`;
  const send = (activity: Record<string, unknown>, token: string | undefined = fake.token()) => postActivity(endpoint(), activity, token);

  /** `@P0 <text>` by `user` in `conversation`; resolves with the bot's reply. */
  async function say(user: FakeTeamsUser, conversation: ConversationSpec, text: string): Promise<SentActivity> {
    const message = fake.message(user, conversation, text);
    const answer = await send(message);
    assert.equal(answer.status, 200, answer.raw);
    return fake.waitFor(`the reply to "${text}"`, () => fake.sent.find((sent) => sent.replyToId === message.id));
  }

  /** A click on `action` of `sent` by `user`; resolves with the card Teams shows them after it. */
  async function click(user: FakeTeamsUser, sent: SentActivity, action: Card | ReturnType<typeof actionOf>, inputs: Record<string, string> = {}): Promise<Card> {
    const answer = await send(fake.execute(user, sent, action as ReturnType<typeof actionOf>, inputs));
    assert.equal(answer.status, 200, answer.raw);
    assert.equal(answer.body.statusCode, 200);
    assert.equal(answer.body.type, 'application/vnd.microsoft.card.adaptive');
    return answer.body.value!;
  }

  /** The card `user` sees on `sent`: Teams asks the bot for it (refresh) when they are among its userIds. */
  async function refreshed(user: FakeTeamsUser, sent: SentActivity): Promise<Card> {
    const card = cardOf(sent);
    assert.ok(card?.refresh, `the card has no refresh: ${JSON.stringify(card)}`);
    return click(user, sent, card.refresh.action);
  }

  function cardIn(user: FakeTeamsUser, requestId: string): SentActivity | undefined {
    return fake.in(fake.personalConversationId(user)).find((sent) => textOf(cardOf(sent)).includes(requestId));
  }

  const choicesOf = (card: Card | undefined, id: string) => (inputOf(card, id)?.choices ?? []).map((choice) => choice.value);
  const requestsOf = (email: string): Promise<RequestView[]> => h.requests.list({ requester: email });
  const idIn = (card: Card | undefined) => /req_[0-9A-Z]{26}/.exec(textOf(card))?.[0];

  it('refuses a missing, forged, unsigned, expired or misaddressed token with 401, and starts nothing', async () => {
    const before = { requests: (await requestsOf(ALICE_EMAIL)).length, sent: fake.sent.length, lookups: fake.memberLookups.length };
    const oneLine = () => fake.message(ALICE, channel, 'request aws group Developers --account prod --reason forged --duration 5m');
    assert.equal((await postActivity(endpoint(), oneLine(), undefined)).status, 401, 'no token');
    assert.equal((await postActivity(endpoint(), oneLine(), '')).status, 401, 'an empty token');
    for (const flaw of ['forged', 'unknownKid', 'algNone', 'expired', 'wrongAudience', 'wrongIssuer', 'wrongServiceUrl'] as const) {
      const answer = await send(oneLine(), fake.token(flaw));
      assert.equal(answer.status, 401, `${flaw}: ${answer.status} ${answer.raw}`);
    }
    // A click on a card is refused the same way.
    const forgedClick = fake.execute(ALICE, { id: 'out-0', conversationId: channel.id, type: 'message', updates: 0 }, { type: 'Action.Execute', verb: VERB.request, data: { [INPUT.level]: 'aws/prod/dev' } });
    assert.equal((await send(forgedClick, fake.token('forged'))).status, 401);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual({ requests: (await requestsOf(ALICE_EMAIL)).length, sent: fake.sent.length, lookups: fake.memberLookups.length }, before);
    assert.deepEqual(fake.refusedCalls, [], 'every call the bot made carried its token');
  });

  it('answers @P0 request with the request card, offering only what this person may request', async () => {
    const reply = await say(ALICE, channel, 'request');
    const card = cardOf(reply);
    assert.equal(card?.version, '1.4');
    assert.deepEqual(choicesOf(card, INPUT.resourceType), ['aws']);
    assert.equal(inputOf(card, INPUT.resourceType)?.value, 'aws', 'the only resource type is chosen');
    assert.deepEqual(choicesOf(card, INPUT.resource), ['prod', 'staging']);
    assert.deepEqual(choicesOf(card, INPUT.level), ['aws/prod/admin', 'aws/prod/dev', 'aws/staging/readonly']);
    assert.ok(inputOf(card, INPUT.reason) && inputOf(card, INPUT.duration));
    assert.deepEqual(verbsOf(card), [VERB.request]);
    assert.equal(actionOf(card, VERB.request).title, 'Request');

    // Submitting with a resource and no level narrows the card to that resource's levels and presets.
    const narrowed = await click(ALICE, reply, actionOf(card, VERB.request), { [INPUT.resourceType]: 'aws', [INPUT.resource]: 'prod' });
    assert.deepEqual(choicesOf(narrowed, INPUT.level), ['aws/prod/admin', 'aws/prod/dev']);
    assert.match(textOf(narrowed), /Choose an access level/);

    // carol (not in the platform group) is offered only the level anyone may request, in a group chat too.
    const carols = cardOf(await say(CAROL, groupChat, 'request'));
    assert.deepEqual(choicesOf(carols, INPUT.resource), ['prod']);
    assert.deepEqual(choicesOf(carols, INPUT.level), ['aws/prod/dev']);
    assert.equal(inputOf(carols, INPUT.level)?.value, 'aws/prod/dev');
    assert.deepEqual(choicesOf(carols, INPUT.duration), ['15m', '30m', '1h', '2h']);
    // ... and in her 1:1 chat with the bot, no mention needed.
    assert.deepEqual(choicesOf(cardOf(await say(CAROL, fake.personal(CAROL), 'request')), INPUT.level), ['aws/prod/dev']);
  });

  it('shows a refusal on the card, under its field, and starts nothing', async () => {
    const before = (await requestsOf(ALICE_EMAIL)).length;
    const reply = await say(ALICE, channel, 'request');
    const request = actionOf(cardOf(reply), VERB.request);
    const refused = await click(ALICE, reply, request, { [INPUT.level]: 'aws/prod/admin', [INPUT.reason]: 'because', [INPUT.duration]: '15m' });
    assert.match(textOf(refused), /"because" does not contain a ticket id such as INC-42/);
    assert.equal(inputOf(refused, INPUT.reason)?.value, 'because', 'what was typed stays');
    assert.deepEqual(choicesOf(refused, INPUT.duration), ['15m', '30m', '1h'], "the level's presets");
    // A level the card never offered (edited data): the quickstart's words.
    const unknown = await click(CAROL, reply, request, { [INPUT.level]: 'aws/prod/admin', [INPUT.reason]: 'INC-1' });
    assert.match(textOf(unknown), /Choose an access level/);
    const oneLine = await say(ALICE, channel, 'request aws role NoSuchRole --reason "INC-1"');
    assert.equal(oneLine.text, `⚠️ ${RESOURCE_NOT_FOUND_MESSAGE}`);
    const cliOnly = await say(ALICE, channel, 'request aws group Developers --wait');
    assert.match(cliOnly.text ?? '', /--wait only works in the p0 CLI/);
    assert.match(cliOnly.text ?? '', /usage: @P0 request <provider> <kind> <target>/);
    assert.equal((await requestsOf(ALICE_EMAIL)).length, before);
  });

  it('requests from the card; an approver approves in Teams and IAM grants it; Relinquish ends it', async () => {
    const reply = await say(ALICE, channel, 'request');
    const submitted = await click(ALICE, reply, actionOf(cardOf(reply), VERB.request), {
      [INPUT.resourceType]: 'aws',
      [INPUT.resource]: 'prod',
      [INPUT.level]: 'aws/prod/dev',
      [INPUT.reason]: 'debug INC-7',
      [INPUT.duration]: '30m',
    });
    const id = idIn(submitted);
    assert.ok(id, `the card names the request: ${textOf(submitted)}`);
    assert.deepEqual(verbsOf(submitted), [VERB.cancel], 'the requester may cancel it while it waits');
    const created = await h.waitFor(ALICE_EMAIL, id, ['pending']);
    assert.deepEqual([created.requester, created.resource, created.level, created.duration, created.reason], [ALICE_EMAIL, 'prod', 'dev', '30m', 'debug INC-7']);

    // The requester's card in her 1:1 chat; each approver's in theirs, with Approve and Deny.
    const alices = await fake.waitFor("alice's card", () => cardIn(ALICE, id));
    assert.deepEqual(verbsOf(cardOf(alices)), [VERB.cancel]);
    assert.deepEqual(cardOf(alices)?.refresh?.userIds, [ALICE.id]);
    const bobs = await fake.waitFor("bob's card", () => cardIn(BOB, id));
    const danas = await fake.waitFor("dana's card", () => cardIn(DANA, id));
    assert.deepEqual(verbsOf(cardOf(bobs)), [VERB.approve, VERB.deny]);
    assert.deepEqual([...(cardOf(bobs)?.refresh?.userIds ?? [])].sort(), [BOB.id, DANA.id]);
    assert.match(textOf(cardOf(bobs)), new RegExp(`${ALICE_EMAIL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\*\\* requests \\*\\*aws group Developers`));
    assert.equal(cardIn(MALLORY, id), undefined, 'only approvers are asked');
    // One copy in the approvals channel: no actions for whoever looks; the approvers get theirs by refresh.
    const inChannel = await fake.waitFor('the approvals channel card', () => fake.in(channel.id).find((sent) => textOf(cardOf(sent)).includes(id)));
    assert.deepEqual(verbsOf(cardOf(inChannel)), []);
    assert.deepEqual([...(cardOf(inChannel)?.refresh?.userIds ?? [])].sort(), [BOB.id, DANA.id]);
    assert.deepEqual(verbsOf(await refreshed(DANA, inChannel)), [VERB.approve, VERB.deny]);

    // mallory clicks Approve on bob's card (it is the card data that names the request, not who clicks):
    // refused on her card, and nothing changes.
    const refused = await click(MALLORY, bobs, actionOf(cardOf(bobs), VERB.approve));
    assert.match(textOf(refused), /No request|not an approver/);
    assert.deepEqual(verbsOf(refused), []);
    // A guest who says he is bob is not taken at his word.
    const guest = await click(GUEST, bobs, actionOf(cardOf(bobs), VERB.approve));
    assert.match(textOf(guest), /Guest accounts cannot use p0/);
    assert.equal((await h.waitFor(ALICE_EMAIL, id, ['pending'])).approvals.length, 0);

    // bob approves: the real workflow grants, verifies and goes active.
    const afterApproval = await click(BOB, bobs, actionOf(cardOf(bobs), VERB.approve));
    assert.deepEqual(verbsOf(afterApproval), []);
    const active = await h.waitFor(ALICE_EMAIL, id, ['active']);
    assert.deepEqual(active.approvals.map((approval) => approval.by), ['bob@example.com']);
    assert.ok((await holdings(h.iam, aliceIamUser)).groups.includes('Developers'), 'IAM holds the membership');

    // Every copy says who approved, updated in place; alice's carries Relinquish.
    for (const sent of [bobs, danas, inChannel]) {
      await fake.waitFor('the approvers\u2019 cards updated', () => verbsOf(cardOf(sent)).length === 0 && /approved by bob@example.com/.test(textOf(cardOf(sent))));
    }
    await fake.waitFor("alice's card with Relinquish", () => verbsOf(cardOf(alices)).includes(VERB.relinquish));
    assert.match(textOf(cardOf(alices)), /Active until \d\d:\d\d UTC \(approved by bob@example.com\)/);
    assert.match(textOf(cardOf(alices)), /Usable since: /);
    assert.equal(fake.in(fake.personalConversationId(ALICE)).filter((sent) => textOf(cardOf(sent)).includes(id)).length, 1, 'one card, updated in place');
    assert.ok(alices.updates > 0);

    const relinquished = await click(ALICE, alices, actionOf(cardOf(alices), VERB.relinquish));
    assert.match(textOf(relinquished), /Ended: relinquished by/);
    const ended = await h.waitFor(ALICE_EMAIL, id, ['relinquished']);
    assert.equal(ended.decision?.by, ALICE_EMAIL);
    assert.ok(!(await holdings(h.iam, aliceIamUser)).groups.includes('Developers'), 'IAM no longer holds it');
    await fake.waitFor("bob's card says it ended", () => /Ended: relinquished by/.test(textOf(cardOf(bobs))) && /Ended: /.test(textOf(cardOf(bobs))));
  });

  it('requests in one line; Deny asks for a reason; every copy shows who decided', async () => {
    const reply = await say(ALICE, channel, 'request aws policy ReadOnlyAccess --reason "check the logs" --duration 5m');
    const id = idIn(cardOf(reply));
    assert.ok(id, JSON.stringify(reply));
    const created = await h.waitFor(ALICE_EMAIL, id, ['pending']);
    assert.deepEqual([created.resource, created.level, created.duration, created.reason], ['staging', 'readonly', '5m', 'check the logs']);

    const danas = await fake.waitFor("dana's card", () => cardIn(DANA, id));
    const bobs = await fake.waitFor("bob's card", () => cardIn(BOB, id));
    const deny = actionOf(cardOf(danas), VERB.deny);
    const noReason = await click(DANA, danas, deny, { [INPUT.comment]: '  ' });
    assert.match(textOf(noReason), /Say why you deny it/);
    assert.equal((await h.waitFor(ALICE_EMAIL, id, ['pending'])).status, 'pending');
    await click(DANA, danas, deny, { [INPUT.comment]: 'use the read replica' });
    const denied = await h.waitFor(ALICE_EMAIL, id, ['denied']);
    assert.deepEqual(denied.decision && [denied.decision.by, denied.decision.comment], ['dana@example.com', 'use the read replica']);
    for (const sent of [bobs, danas]) {
      await fake.waitFor('the approvers\u2019 cards say denied', () => verbsOf(cardOf(sent)).length === 0 && /Denied by dana@example.com: "use the read replica"/.test(textOf(cardOf(sent))));
    }
    // bob clicks the Approve he still had on screen: told, on his card, that it is decided.
    const late = await click(BOB, bobs, actionOf({ body: [{ type: 'Action.Execute', verb: VERB.approve, data: { requestId: id, card: 'approvers' } }] }, VERB.approve));
    assert.match(textOf(late), /already denied by dana@example.com/);
  });

  it('after a restart of the API, updates the cards in place and gives each person their own actions', async () => {
    const created = await h.request(ALICE_EMAIL, { provider: 'aws', resource: 'prod', level: 'dev', reason: 'INC-9', duration: '5m' });
    const bobs = await fake.waitFor("bob's card", () => cardIn(BOB, created.id));
    const danas = await fake.waitFor("dana's card", () => cardIn(DANA, created.id));
    const alices = await fake.waitFor("alice's card", () => cardIn(ALICE, created.id));
    const tokensBefore = fake.tokenRequests.length;

    await h.restartApi();

    // Each person's own view, asked for by Teams (refresh), from the new API process.
    assert.deepEqual(verbsOf(await refreshed(BOB, bobs)), [VERB.approve, VERB.deny]);
    assert.deepEqual(verbsOf(await refreshed(ALICE, alices)), [VERB.cancel]);
    assert.deepEqual(verbsOf(await refreshed(ALICE, bobs)), [], 'the requester cannot approve her own request');
    assert.deepEqual(verbsOf(await refreshed(MALLORY, bobs)), [], 'someone who is not an approver gets no actions');
    assert.ok(fake.tokenRequests.length > tokensBefore, 'the new API process got its own token for the member lookups');

    await click(DANA, danas, actionOf(cardOf(danas), VERB.approve));
    await h.waitFor(ALICE_EMAIL, created.id, ['active']);
    for (const sent of [bobs, danas]) {
      await fake.waitFor('the approvers\u2019 cards updated in place', () => sent.updates > 0 && /approved by dana@example.com/.test(textOf(cardOf(sent))));
    }
    assert.deepEqual(verbsOf(await refreshed(BOB, bobs)), [], 'decided: nothing left for bob');
    await fake.waitFor("alice's card with Relinquish", () => verbsOf(cardOf(alices)).includes(VERB.relinquish));
    assert.deepEqual(verbsOf(await refreshed(ALICE, alices)), [VERB.relinquish]);
    await click(ALICE, alices, actionOf(cardOf(alices), VERB.relinquish));
    await h.waitFor(ALICE_EMAIL, created.id, ['relinquished']);
  });
});

describe('Teams settings and app package', () => {
  it('turns Teams on with all three required variables, with the defaults of the public cloud', () => {
    assert.equal(teamsSettingsFromEnv({}), undefined);
    assert.deepEqual(teamsSettingsFromEnv({ TEAMS_APP_ID: 'app', TEAMS_APP_PASSWORD: 'secret', TEAMS_TENANT_ID: 'tenant-1' }), {
      appId: 'app',
      appPassword: 'secret',
      tenantId: 'tenant-1',
      openIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
      tokenIssuer: 'https://api.botframework.com',
      tokenUrl: 'https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token',
    });
    assert.throws(() => teamsSettingsFromEnv({ TEAMS_APP_ID: 'app', TEAMS_TENANT_ID: 't' }), /TEAMS_APP_PASSWORD is not/);
    assert.throws(() => teamsSettingsFromEnv({ TEAMS_APP_ID: 'a', TEAMS_APP_PASSWORD: 's', TEAMS_TENANT_ID: 't', TEAMS_TOKEN_URL: 'http://login.example.com/token' }), /must be an https URL/);
    assert.equal(teamsSettingsFromEnv({ TEAMS_APP_ID: 'a', TEAMS_APP_PASSWORD: 's', TEAMS_TENANT_ID: 't', TEAMS_APPROVALS_CONVERSATION_ID: '19:x@thread.tacv2' })?.approvalsConversationId, '19:x@thread.tacv2');
  });

  it('npm run teams-manifest fills the bot id into the manifest, zipped with its icons', async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-teams-manifest-'));
    try {
      const out = path.join(dir, 'p0-teams.zip');
      await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/teamsManifest.ts', '--url', 'https://p0.example.com', '--out', out], {
        cwd: path.join(__dirname, '..'),
        env: { ...process.env, TEAMS_APP_ID: APP_ID },
      });
      const zip = fs.readFileSync(out);
      assert.equal(zip.subarray(0, 4).toString('hex'), '504b0304', 'a zip archive');
      // Stored uncompressed: the manifest's text is in the archive as it is.
      const text = zip.toString('latin1');
      const manifest = JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}', text.indexOf('\x89PNG')) + 1)) as { id: string; bots: Array<{ botId: string }>; developer: { websiteUrl: string } };
      assert.deepEqual([manifest.id, manifest.bots[0]?.botId, manifest.developer.websiteUrl], [APP_ID, APP_ID, 'https://p0.example.com']);
      assert.ok(text.includes('color.png') && text.includes('outline.png'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`Teams store on ${kind}`, function () {
    let postgres: RunningPostgres | undefined;
    let tempDir: string;
    let database: Knex;

    before(async function () {
      this.timeout(15 * 60_000);
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-teams-store-'));
      if (kind === 'postgres') {
        postgres = await startPostgres();
        database = await openDatabase({ url: postgres.url });
      } else {
        database = await openDatabase({ sqlitePath: path.join(tempDir, 'p0.sqlite') });
      }
    });
    after(async () => {
      await database?.destroy();
      await postgres?.stop();
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    });

    it("keeps conversation references, people's Teams ids, and cards under Teams' long ids", async () => {
      const store = new TeamsStore(database);
      const longId = `a:${'x'.repeat(180)}`;
      const reference = { serviceUrl: 'https://smba.trafficmanager.net/amer/', conversation: { id: longId, conversationType: 'personal' }, bot: { id: '28:app' } };
      await store.saveConversation({ conversationId: longId, conversationType: 'personal', personalEmail: 'alice@example.com', reference });
      await store.saveConversation({ conversationId: longId, conversationType: 'personal', personalEmail: 'alice@example.com', reference: { ...reference, serviceUrl: 'https://smba.trafficmanager.net/emea/' } });
      assert.equal((await store.personalConversation('alice@example.com'))?.reference.serviceUrl, 'https://smba.trafficmanager.net/emea/', 'a moved serviceUrl replaces the old one');
      assert.equal(await store.personalConversation('bob@example.com'), undefined);
      await store.saveUser({ email: 'alice@example.com', userId: `29:${'y'.repeat(150)}` });
      assert.deepEqual([...(await store.userIds(['alice@example.com', 'bob@example.com'])).keys()], ['alice@example.com']);

      const cards = new ChatMessageStore(database);
      const key = { platform: 'teams', requestId: 'req_1', audience: 'requester', conversation: longId };
      const claim = await cards.claim(key, { recipient: 'alice@example.com', version: 1 });
      assert.ok(claim.claimed);
      await cards.posted(key, claim.token, `1:${'z'.repeat(120)}`, 1);
      assert.equal((await cards.get(key))?.messageId, `1:${'z'.repeat(120)}`);
    });
  });
}
