/**
 * The Slack app end to end: the real Bolt app in the API's HTTP server, driven over HTTP with
 * correctly signed requests (slash commands, block_actions, view_submission), its Web API client
 * and the worker's Slack notifier pointed at a fake Slack, with the real Temporal dev server and
 * moto for IAM. Plus the pure parts (Block Kit builders, the slash command's words) and the chat
 * message store on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import pino from 'pino';
import YAML from 'yaml';
import { createApiApp } from '../api/app';
import { createSlackRouter, SLACK_EVENTS_PATH } from '../bots/slack/app';
import { ACTION } from '../bots/slack/blockKit';
import { approverMessage, parseDecisionButtonValue, requesterMessage, statusLine } from '../bots/slack/messages';
import { durationChoices, modalErrors, normalizeForm, readRequestForm, requestBlockIds, requestModal, type ViewStateValues } from '../bots/slack/modals';
import { interpretSlashCommand, prefillForm } from '../bots/slack/commands';
import { SlackDirectory } from '../bots/slack/directory';
import { createSlackNotifier } from '../bots/slack/notifier';
import { createWebClient, slackSettingsFromEnv, workspacePinOf } from '../bots/slack/settings';
import { clockTime } from '../bots/slack/text';
import { ChatMessageStore } from '../db/chatMessageStore';
import { openDatabase } from '../db/database';
import { AppError } from '../service/errors';
import type { CatalogEntry } from '../shared/catalog';
import { parseRequestCommandLine, RequestGrammarError, requestUsage } from '../shared/requestGrammar';
import type { RequestView } from '../shared/request';
import {
  buttonValuesOf,
  buttonsOf,
  ephemeralTexts,
  FAKE_TEAM_ID,
  FakeSlack,
  findElement,
  messageText,
  SlackEventsClient,
  signSlackRequest,
  type FakeMessage,
  type FakeSlackUser,
  type FakeView,
} from './support/fakeSlack';
import { Harness } from './support/harness';
import { ensureCatalogObjects, holdings } from './support/iam';
import { createIamUser } from './support/moto';
import { startPostgres, type RunningPostgres } from './support/postgres';
import { chatPolicyYaml } from './support/chatPolicy';

const BOT_TOKEN = 'xoxb-test-bot-token';
const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

// The requester's email is unique to this run: moto (and its IAM users) is shared by the test files.
const ALICE: FakeSlackUser = { id: 'U0ALICE', email: `alice-slack-${process.pid}@example.com`, name: 'alice', tz: 'Europe/Berlin' };
const BOB: FakeSlackUser = { id: 'U0BOB', email: 'bob@example.com', name: 'bob' };
const DANA: FakeSlackUser = { id: 'U0DANA', email: 'dana@example.com', name: 'dana' };
const CAROL: FakeSlackUser = { id: 'U0CAROL', email: 'carol@example.com', name: 'carol' };
const MALLORY: FakeSlackUser = { id: 'U0MALLORY', email: 'mallory@example.com', name: 'mallory' };
// Accounts p0 must not take as who they say they are.
const GUEST: FakeSlackUser = { id: 'U0GUEST', email: `guest-${process.pid}@example.com`, name: 'guest', isRestricted: true };
const SINGLE_GUEST: FakeSlackUser = { id: 'U0SINGLE', email: `single-${process.pid}@example.com`, name: 'single', isUltraRestricted: true };
const STRANGER: FakeSlackUser = { id: 'U0STRANGER', email: `stranger-${process.pid}@partner.example`, name: 'stranger', teamId: 'T0PARTNER', isStranger: true };
const OTHER_TEAM_MEMBER: FakeSlackUser = { id: 'U0ELSEWHERE', email: `elsewhere-${process.pid}@example.com`, name: 'elsewhere', teamId: 'T0SISTER' };
/** Someone in another workspace the app is installed in, who gave their account alice's email. */
const ALICE_ELSEWHERE: FakeSlackUser = { id: 'U0EVIL', email: ALICE.email, name: 'alice', teamId: 'T0OTHER' };

const CONFIG = chatPolicyYaml({ requester: ALICE.email, approvers: [BOB.email, DANA.email], breakGlassOnDev: true, extra: `slack:\n  teamId: ${FAKE_TEAM_ID}\n` });

describe('Slack app, end to end over signed HTTP', function () {
  this.timeout(120_000);
  let fake: FakeSlack;
  let h: Harness;
  let slack: SlackEventsClient;
  let aliceIamUser: string;

  before(async () => {
    fake = await FakeSlack.start({ botToken: BOT_TOKEN, users: [ALICE, BOB, DANA, CAROL, MALLORY, GUEST, SINGLE_GUEST, STRANGER, OTHER_TEAM_MEMBER, ALICE_ELSEWHERE] });
    h = await Harness.start(CONFIG, { slack: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl } });
    slack = new SlackEventsClient(`${h.apiUrl}/slack/events`, SIGNING_SECRET);
    await ensureCatalogObjects(h.iam);
    aliceIamUser = await createIamUser(h.iam, ALICE.email, { tag: true });
  });
  after(async () => {
    await h?.stop();
    await fake?.stop();
  });

  /** `/p0 <text>` by `user`; resolves with the modal it opened. */
  async function openModal(user: FakeSlackUser, text = 'request'): Promise<FakeView> {
    const fields = fake.slashCommand(user, text);
    const answer = await slack.command(fields);
    assert.equal(answer.status, 200);
    assert.equal(answer.raw, '', 'the command is acknowledged with nothing to show: the modal is the answer');
    return fake.waitFor(`the modal for "${text}"`, () => fake.viewOpenedWith(fields.trigger_id!));
  }

  /** Picks an option in one of the modal's dependent selects and waits for the modal to be rebuilt. */
  async function choose(user: FakeSlackUser, view: FakeView, actionId: string, value: string): Promise<void> {
    const before = view.hash;
    const answer = await slack.interaction(fake.selectInView(user, view.id, actionId, value));
    assert.equal(answer.status, 200);
    await fake.waitFor(`the modal rebuilt after choosing ${value}`, () => view.hash !== before);
  }

  function optionsOf(view: FakeView, actionId: string): string[] {
    const found = findElement(view.view.blocks, actionId);
    assert.ok(found, `the modal has no ${actionId}: ${JSON.stringify(view.view.blocks)}`);
    return (found.element.options ?? []).map((option) => option.value);
  }

  /** The request view as `email` sees it through the API. */
  async function apiView(email: string, id: string): Promise<RequestView> {
    const answer = await h.call<{ request: RequestView }>(email, 'GET', `/v1/requests/${id}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.request;
  }

  function dmMessage(user: FakeSlackUser, requestId: string): FakeMessage | undefined {
    return fake.messagesIn(fake.dmChannelOf(user.id)).find((message) => message.text.includes(requestId));
  }

  async function requestsOf(email: string): Promise<RequestView[]> {
    return h.requests.list({ requester: email });
  }

  it('explains the syntax on /p0 help and /p0 request --help', async () => {
    for (const text of ['help', 'request --help', '']) {
      const answer = await slack.command(fake.slashCommand(ALICE, text));
      assert.equal(answer.status, 200);
      assert.equal(answer.body.response_type, 'ephemeral');
      assert.ok(String(answer.body.text).includes(requestUsage('slack')), `${text}: ${answer.body.text}`);
      assert.match(answer.body.text ?? '', /--reason TEXT/);
      assert.doesNotMatch(answer.body.text ?? '', /--wait/, 'CLI-only words are not offered in Slack');
    }
  });

  it('opens the modal with what the catalog offers this user, one choice at a time', async () => {
    const view = await openModal(ALICE);
    assert.equal(view.view.callback_id, 'p0_request');
    // One provider: it is chosen already; the resources are the ones alice may request in.
    assert.deepEqual(optionsOf(view, ACTION.provider), ['aws']);
    assert.equal(findElement(view.view.blocks, ACTION.provider)?.element.initial_option?.text.text, 'AWS');
    assert.deepEqual(optionsOf(view, ACTION.resource), ['prod', 'staging']);
    assert.equal(findElement(view.view.blocks, ACTION.level), undefined, 'no level before a resource');

    await choose(ALICE, view, ACTION.resource, 'prod');
    assert.deepEqual(optionsOf(view, ACTION.level), ['admin', 'dev']);
    await choose(ALICE, view, ACTION.level, 'admin');
    assert.deepEqual(optionsOf(view, ACTION.duration), ['15m', '30m', '1h'], "the level's presets");
    const reason = view.view.blocks.find((block) => block.block_id === 'reason');
    assert.equal(reason?.optional, false, 'the level requires a reason');
    assert.match(reason?.hint?.text ?? '', /a ticket id such as INC-42/);
    assert.equal(findElement(view.view.blocks, ACTION.breakGlass), undefined, 'admin has no break-glass');

    await choose(ALICE, view, ACTION.level, 'dev');
    assert.deepEqual(optionsOf(view, ACTION.duration), ['15m', '30m', '1h', '2h'], 'choices within the bounds when a level has no presets');
    assert.ok(findElement(view.view.blocks, ACTION.breakGlass), 'dev allows break-glass');

    // carol is not in the platform group: only what she may request is offered.
    const carols = await openModal(CAROL);
    assert.deepEqual(optionsOf(carols, ACTION.resource), ['prod']);
    assert.deepEqual(optionsOf(carols, ACTION.level), ['dev']);
  });

  it('shows an invalid reason inline, under the reason, and starts nothing', async () => {
    const before = (await requestsOf(ALICE.email)).length;
    const view = await openModal(ALICE);
    await choose(ALICE, view, ACTION.resource, 'prod');
    await choose(ALICE, view, ACTION.level, 'admin');
    fake.fillInView(view.id, { [ACTION.reason]: 'because', [ACTION.duration]: '15m' });
    const answer = await slack.interaction(fake.submitView(ALICE, view.id));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.response_action, 'errors');
    assert.deepEqual(Object.keys(answer.body.errors ?? {}), ['reason']);
    assert.match(answer.body.errors?.reason ?? '', /"because" does not contain a ticket id such as INC-42/);
    assert.equal((await requestsOf(ALICE.email)).length, before);
  });

  it('requests from the modal; Approve makes it active; the requester relinquishes it from the DM', async () => {
    const userName = aliceIamUser;
    const view = await openModal(ALICE);
    await choose(ALICE, view, ACTION.resource, 'prod');
    await choose(ALICE, view, ACTION.level, 'dev');
    fake.fillInView(view.id, { [ACTION.reason]: 'debug INC-7', [ACTION.duration]: '30m' });
    const submitted = await slack.interaction(fake.submitView(ALICE, view.id));
    assert.equal(submitted.status, 200);
    assert.equal(submitted.body.response_action, 'update', JSON.stringify(submitted.body));
    const id = /req_[0-9A-Z]{26}/.exec(JSON.stringify(submitted.body.view))?.[0];
    assert.ok(id, `the confirmation names the request: ${JSON.stringify(submitted.body.view)}`);

    // A real workflow, visible through the API, as alice's (her Slack email is her identity).
    const created = await apiView(ALICE.email, id);
    assert.equal(created.requester, ALICE.email);
    assert.deepEqual([created.provider, created.resource, created.level, created.duration, created.reason], ['aws', 'prod', 'dev', '30m', 'debug INC-7']);
    assert.equal(created.status, 'pending');

    // alice's DM with Cancel; bob's and dana's DMs with Approve and Deny.
    const aliceDm = await fake.waitFor("alice's DM", () => dmMessage(ALICE, id));
    assert.deepEqual(buttonsOf(aliceDm), [ACTION.cancel]);
    assert.match(messageText(aliceDm), /Pending: waiting for approval by bob@example.com or dana@example.com/);
    const bobs = await fake.waitFor("bob's DM", () => dmMessage(BOB, id));
    const danas = await fake.waitFor("dana's DM", () => dmMessage(DANA, id));
    assert.deepEqual(buttonsOf(bobs), [ACTION.approve, ACTION.deny]);
    assert.deepEqual(buttonsOf(danas), [ACTION.approve, ACTION.deny]);
    assert.match(messageText(bobs), new RegExp(`${ALICE.email}\\* requests \\*aws group Developers`));
    const danasAsSheSawIt = structuredClone(danas);

    // Someone who may not approve is told so, privately, and nothing changes.
    const refused = await slack.interaction(fake.clickButton(MALLORY, bobs, ACTION.approve));
    assert.equal(refused.status, 200);
    const toMallory = await fake.waitFor('the refusal to mallory', () => ephemeralTexts(fake, MALLORY).find((text) => text.includes('approver')));
    assert.match(toMallory, /mallory@example.com is not an approver for this request/);
    assert.equal((await apiView(ALICE.email, id)).status, 'pending');

    // bob approves: the real workflow provisions, verifies and goes active.
    const approved = await slack.interaction(fake.clickButton(BOB, bobs, ACTION.approve));
    assert.equal(approved.status, 200);
    const active = await h.waitFor(ALICE.email, id, ['active']);
    assert.deepEqual(active.approvals.map((approval) => approval.by), [BOB.email]);
    assert.ok((await holdings(h.iam, userName)).groups.includes('Developers'));

    // Everyone's message says who approved it, without the buttons.
    for (const message of [bobs, danas]) {
      await fake.waitFor('the approvers\u2019 messages updated', () => buttonsOf(message).length === 0 && /approved by bob@example.com/.test(messageText(message)));
    }
    // dana clicks the Approve she still had on screen: told who decided, nothing changes.
    await slack.interaction(fake.clickButton(DANA, danasAsSheSawIt, ACTION.approve));
    const toDana = await fake.waitFor('the answer to dana', () => ephemeralTexts(fake, DANA).at(-1));
    assert.match(toDana, /already active.*approved by bob@example.com/);

    // alice's DM: active until a time in her zone, with Relinquish.
    await fake.waitFor("alice's DM with Relinquish", () => buttonsOf(aliceDm).includes(ACTION.relinquish));
    const activeUntil = clockTime(active.expiresAt!, ALICE.tz, active.activeAt);
    assert.ok(messageText(aliceDm).includes(`Active until ${activeUntil}`), messageText(aliceDm));
    assert.match(activeUntil, /^\d\d:\d\d (CET|CEST|GMT\+\d)$/);
    assert.equal(fake.messagesIn(fake.dmChannelOf(ALICE.id)).filter((message) => message.text.includes(id)).length, 1, 'one DM, updated in place');

    const relinquish = await slack.interaction(fake.clickButton(ALICE, aliceDm, ACTION.relinquish));
    assert.equal(relinquish.status, 200);
    const ended = await h.waitFor(ALICE.email, id, ['relinquished']);
    assert.equal(ended.decision?.by, ALICE.email);
    assert.ok(!(await holdings(h.iam, userName)).groups.includes('Developers'), 'the IAM membership is gone');
    await fake.waitFor("alice's DM says it ended", () => buttonsOf(aliceDm).length === 0 && /Ended: relinquished by/.test(messageText(aliceDm)));
    await fake.waitFor("bob's message says it ended", () => /Ended: relinquished by/.test(messageText(bobs)));
  });

  it('requests in one line; Deny asks for a reason; a later click says who decided', async () => {
    const fields = fake.slashCommand(ALICE, 'request aws policy ReadOnlyAccess --reason "check the logs" --duration 5m');
    const answer = await slack.command(fields);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.response_type, 'ephemeral');
    assert.match(answer.body.text ?? '', /Requesting aws policy ReadOnlyAccess/);
    const reply = await fake.waitFor('the reply on the response_url', () => fake.responses.find((post) => fields.response_url!.endsWith(post.path)));
    const id = /req_[0-9A-Z]{26}/.exec(reply.body.text ?? '')?.[0];
    assert.ok(id, JSON.stringify(reply.body));
    assert.equal(reply.body.response_type, 'ephemeral');
    assert.match(reply.body.text ?? '', /Pending/);
    const created = await apiView(ALICE.email, id);
    assert.deepEqual([created.resource, created.level, created.duration, created.reason], ['staging', 'readonly', '5m', 'check the logs']);

    const danas = await fake.waitFor("dana's DM", () => dmMessage(DANA, id));
    const bobs = await fake.waitFor("bob's DM", () => dmMessage(BOB, id));
    // What bob has on screen now; the message itself is updated once dana decides.
    const bobsOnScreen = structuredClone(bobs);
    const deny = fake.clickButton(DANA, danas, ACTION.deny);
    assert.equal((await slack.interaction(deny)).status, 200);
    const modal = await fake.waitFor('the deny modal', () => fake.viewOpenedWith(deny.trigger_id));
    assert.equal(modal.view.callback_id, 'p0_deny');
    const empty = await slack.interaction(fake.submitView(DANA, modal.id));
    assert.equal(empty.body.response_action, 'errors', 'a denial needs a reason');
    fake.fillInView(modal.id, { [ACTION.denyComment]: 'use the read replica' });
    const submitted = await slack.interaction(fake.submitView(DANA, modal.id));
    assert.equal(submitted.status, 200);
    assert.equal(submitted.raw, '', 'the modal closes');
    const denied = await h.waitFor(ALICE.email, id, ['denied']);
    assert.deepEqual(denied.decision && [denied.decision.by, denied.decision.comment], [DANA.email, 'use the read replica']);

    // bob clicks the Approve he still has on screen: told who decided, nothing changes.
    const late = await slack.interaction(fake.clickButton(BOB, bobsOnScreen, ACTION.approve));
    assert.equal(late.status, 200);
    const toBob = await fake.waitFor('the answer to bob', () => ephemeralTexts(fake, BOB).find((text) => text.includes('denied')));
    assert.match(toBob, /already denied by dana@example.com/);
    assert.equal((await apiView(ALICE.email, id)).status, 'denied');
  });

  // A decision made in an Update handler that ends the request (deny, cancel) is notified after the
  // main body's first wait for notifications: the workflow waits for those too before completing.
  it("lets a break-glass request's approver revoke it from their message", async () => {
    const taken = await h.request(ALICE.email, { provider: 'aws', resource: 'prod', level: 'dev', duration: '5m', reason: 'outage INC-9', breakGlass: true });
    await h.waitFor(ALICE.email, taken.id, ['active']);
    const bobs = await fake.waitFor("bob's DM with Revoke", () => {
      const message = dmMessage(BOB, taken.id);
      return message && buttonsOf(message).includes(ACTION.revoke) ? message : undefined;
    });
    assert.deepEqual(buttonsOf(bobs), [ACTION.revoke, ACTION.review]);
    const clicked = await slack.interaction(fake.clickButton(BOB, bobs, ACTION.revoke));
    assert.equal(clicked.status, 200);
    const revoked = await h.waitFor(ALICE.email, taken.id, ['revoked']);
    assert.equal(revoked.decision?.by, BOB.email);
    assert.ok(!(await holdings(h.iam, aliceIamUser)).groups.includes('Developers'), 'the IAM membership is gone');
    await fake.waitFor("bob's message says it ended", () => /Ended: revoked by bob@example.com/.test(messageText(bobs)));
    assert.equal((await h.act(DANA.email, taken.id, 'review', 'revoked by bob')).status, 200);
  });

  it('updates every message when a request is denied', async () => {
    const fields = fake.slashCommand(ALICE, 'request aws policy ReadOnlyAccess --reason "read" --duration 5m');
    await slack.command(fields);
    const reply = await fake.waitFor('the reply', () => fake.responses.find((post) => fields.response_url!.endsWith(post.path)));
    const id = /req_[0-9A-Z]{26}/.exec(reply.body.text ?? '')![0];
    const bobs = await fake.waitFor("bob's DM", () => dmMessage(BOB, id));
    const deny = fake.clickButton(BOB, bobs, ACTION.deny);
    await slack.interaction(deny);
    const modal = await fake.waitFor('the deny modal', () => fake.viewOpenedWith(deny.trigger_id));
    fake.fillInView(modal.id, { [ACTION.denyComment]: 'no' });
    await slack.interaction(fake.submitView(BOB, modal.id));
    await h.waitFor(ALICE.email, id, ['denied']);
    await fake.waitFor("bob's message says denied", () => buttonsOf(bobs).length === 0 && /Denied by bob@example.com/.test(messageText(bobs)));
    const aliceDm = await fake.waitFor("alice's DM", () => dmMessage(ALICE, id));
    await fake.waitFor("alice's DM says denied", () => buttonsOf(aliceDm).length === 0 && /Denied by bob@example.com: "no"/.test(messageText(aliceDm)));
  });

  it("answers a mistake in the one-line command with the grammar's own message", async () => {
    const before = (await requestsOf(ALICE.email)).length;
    const text = 'request aws role AdminRole --duration 2 hours';
    let expected = '';
    try {
      parseRequestCommandLine(text, { channel: 'slack' });
    } catch (error) {
      assert.ok(error instanceof RequestGrammarError);
      expected = error.message;
    }
    assert.match(expected, /--duration: "2 hours" is not a duration/);
    const answer = await slack.command(fake.slashCommand(ALICE, text));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { response_type: 'ephemeral', text: expected });

    const cliOnly = await slack.command(fake.slashCommand(ALICE, 'request aws role AdminRole --wait'));
    assert.match(cliOnly.body.text ?? '', /--wait only works in the p0 CLI/);
    assert.equal((await requestsOf(ALICE.email)).length, before);
  });

  it('opens the modal pre-filled for a partial command', async () => {
    const group = await openModal(ALICE, 'request aws group --reason "INC-9 outage"');
    const ids = requestBlockIds({ provider: 'aws', resource: 'prod', level: 'dev' });
    assert.equal(findElement(group.view.blocks, ACTION.resource)?.element.initial_option?.value, 'prod');
    assert.equal(findElement(group.view.blocks, ACTION.level)?.element.initial_option?.value, 'dev');
    assert.equal(findElement(group.view.blocks, ACTION.reason)?.element.initial_value, 'INC-9 outage');
    assert.ok(group.view.blocks.some((block) => block.block_id === ids.duration));

    const provider = await openModal(ALICE, 'request aws');
    assert.equal(findElement(provider.view.blocks, ACTION.provider)?.element.initial_option?.value, 'aws');
    assert.ok(findElement(provider.view.blocks, ACTION.resource), 'the resource select is offered');
    assert.equal(findElement(provider.view.blocks, ACTION.resource)?.element.initial_option, undefined);
  });

  it('refuses a forged signature and a stale timestamp with 401, and starts nothing', async () => {
    const before = { requests: (await requestsOf(ALICE.email)).length, views: fake.callsTo('views.open').length, responses: fake.responses.length };
    const oneLine = () => fake.slashCommand(ALICE, 'request aws group Developers --reason forged --duration 5m');

    const forged = await slack.command(oneLine(), { secret: 'not-the-signing-secret' });
    assert.equal(forged.status, 401);
    const garbage = await slack.command(oneLine(), { signature: 'v0=0000' });
    assert.equal(garbage.status, 401);
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
    const stale = await slack.command(oneLine(), { timestamp: sixMinutesAgo });
    assert.equal(stale.status, 401);
    const staleModal = await slack.command(fake.slashCommand(ALICE, 'request'), { timestamp: sixMinutesAgo });
    assert.equal(staleModal.status, 401);
    // Correctly signed, from a second ago: accepted (the window is five minutes).
    const body = new URLSearchParams(fake.slashCommand(ALICE, 'help')).toString();
    const recent = Math.floor(Date.now() / 1000) - 60;
    const fresh = await fetch(`${h.apiUrl}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(recent), 'x-slack-signature': signSlackRequest(SIGNING_SECRET, recent, body) },
      body,
    });
    assert.equal(fresh.status, 200);

    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await requestsOf(ALICE.email)).length, before.requests);
    assert.equal(fake.callsTo('views.open').length, before.views);
    assert.equal(fake.responses.length, before.responses);
  });

  it('refuses a command or a click from another Slack workspace, saying why, and starts nothing', async () => {
    const before = (await requestsOf(ALICE.email)).length;
    const lookups = fake.callsTo('users.info').length;
    const command = await slack.command(fake.slashCommand(ALICE_ELSEWHERE, 'request aws group Developers --reason x --duration 5m', 'C0OTHER', 'T0OTHER'));
    assert.equal(command.status, 200);
    assert.equal(command.body.response_type, 'ephemeral');
    assert.match(command.body.text ?? '', /only serves its own Slack workspace/);

    const message: FakeMessage = {
      channel: 'C0OTHER',
      ts: '1700000000.000001',
      text: 'an approval request',
      blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: ACTION.approve, value: 'req_01ARZ3NDEKTSV4RRFFQ69G5FAV', text: { type: 'plain_text', text: 'Approve' } }] }],
      updates: 0,
    };
    const click = fake.clickButton(ALICE_ELSEWHERE, message, ACTION.approve, 'T0OTHER');
    assert.equal((await slack.interaction(click)).status, 200);
    const reply = await fake.waitFor('the refusal of the click', () => fake.responses.find((post) => String(click.response_url).endsWith(post.path)));
    assert.equal(reply.body.response_type, 'ephemeral');
    assert.match(reply.body.text ?? '', /only serves its own Slack workspace/);
    assert.equal(fake.callsTo('users.info').length, lookups, 'refused before anyone is looked up');
    assert.equal((await requestsOf(ALICE.email)).length, before);
  });

  it('refuses guests, Slack Connect outsiders and accounts of another workspace, saying why', async () => {
    const refusals: Array<[FakeSlackUser, RegExp]> = [
      [GUEST, /guest accounts cannot use p0/i],
      [SINGLE_GUEST, /guest accounts cannot use p0/i],
      [STRANGER, /another organization \(Slack Connect\)/],
      [OTHER_TEAM_MEMBER, /belongs to another Slack workspace/],
    ];
    for (const [user, why] of refusals) {
      const fields = fake.slashCommand(user, 'request aws group Developers --reason x --duration 5m');
      assert.equal((await slack.command(fields)).status, 200);
      const reply = await fake.waitFor(`the answer to ${user.name}`, () => fake.responses.find((post) => fields.response_url!.endsWith(post.path)));
      assert.equal(reply.body.response_type, 'ephemeral');
      assert.match(reply.body.text ?? '', why);
      assert.equal((await requestsOf(user.email)).length, 0, `${user.name} started a request`);
    }
    // The modal is not opened for them either.
    const modal = fake.slashCommand(GUEST, 'request');
    assert.equal((await slack.command(modal)).status, 200);
    const reply = await fake.waitFor('the answer to the guest', () => fake.responses.find((post) => modal.response_url!.endsWith(post.path)));
    assert.match(reply.body.text ?? '', /guest accounts cannot use p0/i);
    assert.equal(fake.viewOpenedWith(modal.trigger_id!), undefined);
  });

  it('acknowledged every command and interaction above within 3 seconds', function () {
    assert.ok(slack.timings.length > 0, 'no interaction was measured: run the whole file, not one test');
    const slow = slack.timings.filter((timing) => timing.elapsedMs >= 3000);
    assert.deepEqual(slow, []);
  });

  it('uses only the bot token from the environment', () => {
    const withToken = fake.calls.filter((call) => call.answer.error === 'invalid_auth' || call.answer.error === 'not_authed');
    assert.deepEqual(withToken, []);
    assert.ok(fake.callsTo('users.info').length >= 1);
  });
});

describe('Slack notifier (against the fake Slack)', function () {
  this.timeout(30_000);
  let fake: FakeSlack;
  let tempDir: string;
  let database: Knex;
  let store: ChatMessageStore;
  let counter = 0;
  const settings = () => ({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl });

  before(async () => {
    fake = await FakeSlack.start({ botToken: BOT_TOKEN, users: [ALICE, BOB, DANA] });
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-slack-notifier-'));
    database = await openDatabase({ sqlitePath: path.join(tempDir, 'p0.sqlite') });
    store = new ChatMessageStore(database);
  });
  after(async () => {
    await database?.destroy();
    await fake?.stop();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  });

  function requestView(overrides: Partial<RequestView> = {}): RequestView {
    counter += 1;
    return {
      id: `req_01J${String(counter).padStart(23, '0')}`,
      status: 'pending',
      requester: ALICE.email,
      provider: 'aws',
      resource: 'prod',
      level: 'dev',
      kind: 'group',
      target: 'Developers',
      reason: 'debug',
      duration: '1h',
      durationSeconds: 3600,
      approvers: [BOB.email, DANA.email, 'not-in-slack@example.com'],
      approvalsRequired: 1,
      approvals: [],
      createdAt: new Date().toISOString(),
      policyVersion: 'v1',
      extensions: [],
      version: 1,
      ...overrides,
    };
  }

  it('asks in the approval channel when one is configured, and updates that one message', async () => {
    const notifier = createSlackNotifier({ settings: settings(), messages: store, approvalChannel: () => 'C0APPROVALS' });
    const pending = requestView();
    await notifier.notify({ event: 'requested', view: pending });
    const [posted] = fake.messagesIn('C0APPROVALS').filter((message) => message.text.includes(pending.id));
    assert.ok(posted);
    assert.deepEqual(buttonsOf(posted), [ACTION.approve, ACTION.deny]);
    assert.equal(dmCount(BOB, pending.id) + dmCount(DANA, pending.id), 0, 'no direct messages to approvers');
    await notifier.notify({ event: 'approved', view: { ...pending, status: 'approved', approvals: [{ by: BOB.email, at: new Date().toISOString() }], version: 2 } });
    assert.equal(fake.messagesIn('C0APPROVALS').filter((message) => message.text.includes(pending.id)).length, 1);
    assert.match(messageText(posted), /Approved by bob@example.com/);
    assert.deepEqual(buttonsOf(posted), []);
  });

  it('posts each message once and never shows an older state over a newer one, whatever the order', async () => {
    const notifier = createSlackNotifier({ settings: settings(), messages: store });
    const pending = requestView();
    const approved = { ...pending, status: 'approved' as const, approvals: [{ by: BOB.email, at: new Date().toISOString() }], version: 2 };
    const active = { ...approved, status: 'active' as const, activeAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString(), version: 4 };
    // Concurrent and out of order, as activities may run.
    await Promise.all([
      notifier.notify({ event: 'active', view: active }),
      notifier.notify({ event: 'requested', view: pending }),
      notifier.notify({ event: 'approved', view: approved }),
    ]);
    for (const user of [ALICE, BOB, DANA]) assert.equal(dmCount(user, pending.id), 1, `one message for ${user.name}`);
    const aliceDm = fake.messagesIn(fake.dmChannelOf(ALICE.id)).find((message) => message.text.includes(pending.id))!;
    assert.match(messageText(aliceDm), /Active until/);
    assert.deepEqual(buttonsOf(aliceDm), [ACTION.relinquish]);
    assert.deepEqual((await store.list('slack', pending.id, 'requester')).map((message) => message.version), [4]);
  });

  it('says nothing to approvers about access they have nothing to do with', async () => {
    const notifier = createSlackNotifier({ settings: settings(), messages: store });
    const auto = requestView({ status: 'approved', approvals: [{ by: 'policy:oncall', at: new Date().toISOString() }] });
    await notifier.notify({ event: 'approved', view: auto });
    assert.equal(dmCount(BOB, auto.id), 0);
    assert.equal(dmCount(ALICE, auto.id), 1);
    assert.match(messageText(fake.messagesIn(fake.dmChannelOf(ALICE.id)).find((message) => message.text.includes(auto.id))!), /Approved by policy rule oncall/);
  });

  it('refuses a wrong bot token as Slack does', async () => {
    const client = createWebClient({ ...settings(), botToken: 'xoxb-wrong' }, { retries: 0 });
    await assert.rejects(client.auth.test(), (error: Error & { data?: { error?: string } }) => error.data?.error === 'invalid_auth');
  });

  function dmCount(user: FakeSlackUser, requestId: string): number {
    return fake.messagesIn(fake.dmChannelOf(user.id)).filter((message) => message.text.includes(requestId)).length;
  }
});

describe('Slack app manifest (docs/slack-app-manifest.yaml)', () => {
  it('declares /p0 and interactivity at /slack/events, and the bot scopes the app uses', () => {
    interface Manifest {
      features: { slash_commands: Array<{ command: string; url: string }> };
      oauth_config: { scopes: { bot: string[] } };
      settings: { interactivity: { is_enabled: boolean; request_url: string } };
    }
    const manifest = YAML.parse(fs.readFileSync(path.join(__dirname, '..', 'docs', 'slack-app-manifest.yaml'), 'utf8')) as Manifest;
    assert.deepEqual(manifest.features.slash_commands.map((command) => command.command), ['/p0']);
    assert.equal(new URL(manifest.features.slash_commands[0]!.url).pathname, SLACK_EVENTS_PATH);
    assert.equal(manifest.settings.interactivity.is_enabled, true);
    assert.equal(new URL(manifest.settings.interactivity.request_url).pathname, SLACK_EVENTS_PATH);
    assert.deepEqual([...manifest.oauth_config.scopes.bot].sort(), ['chat:write', 'commands', 'im:write', 'users:read', 'users:read.email']);
  });
});

describe('/slack/events limits (the real Bolt app in the API, no Temporal behind it)', function () {
  this.timeout(30_000);
  let fake: FakeSlack;
  const servers: http.Server[] = [];

  before(async () => {
    fake = await FakeSlack.start({ botToken: BOT_TOKEN, users: [ALICE] });
  });
  after(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await fake?.stop();
  });

  /** The API app with only the Slack channel working; `/p0 help` needs nothing else. */
  async function startApp(rateLimitPerMinute: number): Promise<string> {
    const logger = pino({ level: 'silent' });
    const slackRouter = createSlackRouter({
      service: {} as never,
      settings: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl },
      logger,
      workspace: () => ({ teamId: FAKE_TEAM_ID }),
    });
    const app = createApiApp({ service: {} as never, tokens: {} as never, logger, channels: [{ path: SLACK_EVENTS_PATH, handler: slackRouter }], rateLimitPerMinute });
    const server = await new Promise<http.Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}${SLACK_EVENTS_PATH}`;
  }

  it('is behind the per-IP rate limit, counted before the signature check', async () => {
    const slack = new SlackEventsClient(await startApp(3), SIGNING_SECRET);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      assert.equal((await slack.command(fake.slashCommand(ALICE, 'help'), { secret: 'wrong-secret' })).status, 401);
    }
    const limited = await slack.command(fake.slashCommand(ALICE, 'help'));
    assert.equal(limited.status, 429);
    assert.equal((limited.body as { error?: { code?: string } }).error?.code, 'rate_limited');
  });

  it('refuses a body over 64 KiB with 413 before reading it all or checking its signature', async () => {
    const slack = new SlackEventsClient(await startApp(1000), SIGNING_SECRET);
    assert.equal((await slack.command(fake.slashCommand(ALICE, 'help'))).status, 200);
    const big = await slack.command(fake.slashCommand(ALICE, `help ${'x'.repeat(70 * 1024)}`));
    assert.equal(big.status, 413);
  });
});

describe('Slack directory (who is who, against the fake Slack)', function () {
  this.timeout(30_000);
  let fake: FakeSlack;
  before(async () => {
    fake = await FakeSlack.start({ botToken: BOT_TOKEN, users: [ALICE] });
  });
  after(() => fake?.stop());

  it('asks Slack again after 2 minutes, so a deactivated account or one made a guest stops working soon', async () => {
    let now = 1_000_000;
    const directory = new SlackDirectory(createWebClient({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl }), {
      workspace: () => ({ teamId: FAKE_TEAM_ID }),
      now: () => now,
    });
    assert.equal((await directory.personOf(ALICE.id)).email, ALICE.email);
    fake.addUser({ ...ALICE, isRestricted: true });
    now += 119_000;
    assert.equal((await directory.personOf(ALICE.id)).email, ALICE.email, 'still the remembered answer');
    now += 2_000;
    await assert.rejects(directory.personOf(ALICE.id), (error: unknown) => error instanceof AppError && error.code === 'forbidden' && /guest accounts cannot use p0/i.test(error.message));
  });

  it('takes the email in lower case, the one form p0 compares', async () => {
    fake.addUser({ id: 'U0UPPER', email: 'Upper.Case@Example.com' });
    const directory = new SlackDirectory(createWebClient({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiUrl: fake.apiUrl }), { workspace: () => ({ teamId: FAKE_TEAM_ID }) });
    assert.equal((await directory.personOf('U0UPPER')).email, 'upper.case@example.com');
  });
});

describe('Slack settings', () => {
  it('needs the workspace pinned in the config (slack.teamId or slack.enterpriseId)', () => {
    assert.throws(() => workspacePinOf({}), /set slack\.teamId/);
    assert.deepEqual(workspacePinOf({ teamId: 'T0P0TEST' }), { teamId: 'T0P0TEST' });
    assert.deepEqual(workspacePinOf({ enterpriseId: 'E0P0TEST' }), { enterpriseId: 'E0P0TEST' });
  });

  it('is off without the variables, on with both, and refuses half a configuration', () => {
    assert.equal(slackSettingsFromEnv({}), undefined);
    assert.deepEqual(slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_API_URL: 'http://127.0.0.1:9/api' }), {
      botToken: 'xoxb-1',
      signingSecret: 's',
      apiUrl: 'http://127.0.0.1:9/api/',
    });
    assert.throws(() => slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1' }), /SLACK_SIGNING_SECRET is not/);
    assert.throws(() => slackSettingsFromEnv({ SLACK_SIGNING_SECRET: 's' }), /SLACK_BOT_TOKEN is not/);
  });
});

describe('Slack directory: who a Slack user is in p0', () => {
  it('knows a person by the lower-cased, trimmed email on their Slack profile', async () => {
    const profiles: Record<string, string> = { U0ALICE: ' Alice@Example.COM', U0BROKEN: 'not-an-email' };
    const client = { users: { info: ({ user }: { user: string }) => Promise.resolve({ user: { id: user, team_id: 'T0P0', profile: { email: profiles[user] } } }) } };
    const directory = new SlackDirectory(client as never, { workspace: () => ({ teamId: 'T0P0' }) });
    assert.equal((await directory.personOf('U0ALICE')).email, 'alice@example.com');
    await assert.rejects(directory.personOf('U0BROKEN'), (error: Error & { code?: string }) => error.name === 'AppError' && error.code === 'unauthenticated' && /"not-an-email"/.test(error.message));
  });
});

describe('Slack Block Kit builders and words (pure)', () => {
  const entry = (overrides: Partial<CatalogEntry> & Pick<CatalogEntry, 'provider' | 'resource' | 'level'>): CatalogEntry => ({
    id: `${overrides.provider}/${overrides.resource}/${overrides.level}`,
    kind: 'role',
    target: 'AdminRole',
    minDuration: '1m',
    maxDuration: '4h',
    defaultDuration: '1h',
    durationPresets: [],
    approvalsRequired: 1,
    requireReason: false,
    readOnly: false,
    allowExtension: true,
    maxLifetime: '4h',
    ...overrides,
  });
  const catalog: CatalogEntry[] = [
    entry({ provider: 'aws', resource: 'prod', level: 'admin', requireReason: true, reasonPatternDescription: 'a ticket id', durationPresets: ['15m', '1h'] }),
    entry({ provider: 'aws', resource: 'prod', level: 'dev', kind: 'group', target: 'Developers', breakGlass: { maxDuration: '10m' } }),
    entry({ provider: 'aws', resource: 'staging', level: 'readonly', kind: 'policy', target: 'ReadOnlyAccess' }),
    entry({ provider: 'gcloud', resource: 'my-project', level: 'viewer', kind: 'role', target: 'roles/viewer' }),
  ];
  const view = (overrides: Partial<RequestView> = {}): RequestView => ({
    id: 'req_01J00000000000000000000000',
    status: 'pending',
    requester: 'alice@example.com',
    provider: 'aws',
    resource: 'prod',
    level: 'admin',
    kind: 'role',
    target: 'AdminRole',
    reason: 'deploy <hotfix> & INC-1',
    duration: '1h',
    durationSeconds: 3600,
    approvers: ['bob@example.com', 'dana@example.com'],
    approvalsRequired: 1,
    approvals: [],
    createdAt: '2026-05-04T12:00:00.000Z',
    policyVersion: 'v1',
    extensions: [],
    version: 1,
    ...overrides,
  });

  it('builds the modal one dependent choice at a time, and reads it back through the same block ids', () => {
    const empty = requestModal(catalog);
    assert.deepEqual(
      empty.blocks.map((block) => block.block_id),
      ['provider', 'reason'],
    );
    const full = requestModal(catalog, { provider: 'aws', resource: 'prod', level: 'dev', duration: '2h', breakGlass: true });
    const ids = requestBlockIds({ provider: 'aws', resource: 'prod', level: 'dev' });
    assert.deepEqual(
      full.blocks.map((block) => block.block_id).filter(Boolean),
      [ids.provider, ids.resource, ids.level, ids.reason, ids.duration, ids.breakGlass],
    );
    const values: ViewStateValues = {
      [ids.provider]: { [ACTION.provider]: { selected_option: { value: 'aws' } } },
      [ids.resource]: { [ACTION.resource]: { selected_option: { value: 'prod' } } },
      [ids.level]: { [ACTION.level]: { selected_option: { value: 'dev' } } },
      [ids.reason]: { [ACTION.reason]: { value: 'INC-1' } },
      [ids.duration]: { [ACTION.duration]: { selected_option: { value: '2h' } } },
      [ids.breakGlass]: { [ACTION.breakGlass]: { selected_options: [{ value: 'yes' }] } },
    };
    assert.deepEqual(readRequestForm(catalog, values), { provider: 'aws', resource: 'prod', level: 'dev', reason: 'INC-1', duration: '2h', breakGlass: true });
    // A choice that is not (or no longer) offered is dropped with everything depending on it.
    assert.deepEqual(normalizeForm(catalog, { provider: 'aws', resource: 'nope', level: 'dev' }), { provider: 'aws', resource: undefined, reason: undefined, duration: undefined, breakGlass: undefined });
    // A single possibility is chosen for the user.
    assert.equal(normalizeForm(catalog, { provider: 'gcloud' }).level, 'viewer');
  });

  it('offers presets, or durations within the bounds with the default', () => {
    assert.deepEqual(durationChoices(catalog[0]!), ['15m', '1h']);
    assert.deepEqual(durationChoices(entry({ provider: 'aws', resource: 'r', level: 'l', minDuration: '10m', maxDuration: '3h', defaultDuration: '45m' })), ['15m', '30m', '45m', '1h', '2h', '3h']);
    assert.deepEqual(durationChoices(entry({ provider: 'aws', resource: 'r', level: 'l', minDuration: '1s', maxDuration: '5s', defaultDuration: '5s' })), ['5s']);
  });

  it("puts the service's refusals under the field they are about", () => {
    const form = { provider: 'aws', resource: 'prod', level: 'admin' };
    const ids = requestBlockIds(form);
    assert.deepEqual(modalErrors(form, 'reason: aws/prod/admin requires a reason'), { reason: 'aws/prod/admin requires a reason' });
    assert.deepEqual(modalErrors(form, 'duration: 9h is outside what aws/prod/admin allows (1m to 4h)'), { [ids.duration]: '9h is outside what aws/prod/admin allows (1m to 4h)' });
    assert.deepEqual(modalErrors(form, "This resource doesn't exist"), { [ids.level]: "This resource doesn't exist" });
  });

  it('gives the requester Cancel while pending and Relinquish while active, with the time in their zone', () => {
    const pending = requesterMessage('requested', view());
    assert.deepEqual(buttonsOf(pending), [ACTION.cancel]);
    assert.match(pending.text, /waiting for approval by bob@example.com or dana@example.com/);
    assert.match(JSON.stringify(pending.blocks), /deploy &lt;hotfix&gt; &amp; INC-1/, 'what people typed is escaped');
    const active = view({ status: 'active', approvals: [{ by: 'bob@example.com', at: '2026-05-04T12:01:00.000Z' }], activeAt: '2026-05-04T12:02:00.000Z', expiresAt: '2026-05-04T13:02:00.000Z' });
    const berlin = requesterMessage('active', active, { timeZone: 'Europe/Berlin' });
    assert.deepEqual(buttonsOf(berlin), [ACTION.relinquish]);
    assert.match(messageText(berlin), /Active until 15:02 GMT\+2 \(approved by bob@example.com\)/);
    assert.match(messageText(requesterMessage('active', active)), /Active until 13:02 UTC/);
    assert.deepEqual(buttonsOf(requesterMessage('expired', { ...active, status: 'expired', endedAt: '2026-05-04T13:02:05.000Z' })), []);
  });

  it('gives approvers Approve and Deny while there is a decision to make, and says who decided after', () => {
    assert.deepEqual(buttonsOf(approverMessage('requested', view())), [ACTION.approve, ACTION.deny]);
    const denied = view({ status: 'denied', decision: { by: 'dana@example.com', comment: 'no', at: '2026-05-04T12:05:00.000Z' } });
    assert.deepEqual(buttonsOf(approverMessage('denied', denied)), []);
    assert.match(approverMessage('denied', denied).text, /Denied by dana@example.com: "no"/);
    const extension = view({ status: 'active', activeAt: '2026-05-04T12:02:00.000Z', expiresAt: '2026-05-04T13:02:00.000Z', pendingExtension: { id: 'ext-7', duration: '30m', durationSeconds: 1800, requestedAt: '2026-05-04T12:30:00.000Z', approvals: [] } });
    assert.deepEqual(buttonsOf(approverMessage('extension_requested', extension)), [ACTION.approve, ACTION.deny]);
    // The extension's buttons name it; the request's buttons (old ones included) carry the bare id.
    assert.deepEqual(buttonValuesOf(approverMessage('extension_requested', extension)), [`${extension.id}/ext-7`, `${extension.id}/ext-7`]);
    assert.deepEqual(buttonValuesOf(approverMessage('requested', view())), [view().id, view().id]);
    assert.deepEqual(parseDecisionButtonValue(`${extension.id}/ext-7`), { requestId: extension.id, subject: 'ext-7' });
    assert.deepEqual(parseDecisionButtonValue(extension.id), { requestId: extension.id });
    assert.match(statusLine('extension_requested', extension), /extension of 30 minutes waiting for approval/);
    const breakGlass = view({ status: 'expired', breakGlass: true, endedAt: '2026-05-04T12:10:00.000Z' });
    assert.deepEqual(buttonsOf(approverMessage('expired', breakGlass)), [ACTION.review]);
    // While break-glass access is held, its approvers may also end it.
    const heldBreakGlass = view({ status: 'active', breakGlass: true, activeAt: '2026-05-04T12:02:00.000Z', expiresAt: '2026-05-04T12:12:00.000Z' });
    assert.deepEqual(buttonsOf(approverMessage('active', heldBreakGlass)), [ACTION.revoke, ACTION.review]);
    assert.deepEqual(buttonsOf(approverMessage('active', { ...heldBreakGlass, review: { by: 'bob@example.com', at: '2026-05-04T12:05:00.000Z' } })), [ACTION.revoke]);
    assert.deepEqual(buttonsOf(approverMessage('active', view({ status: 'active', activeAt: '2026-05-04T12:02:00.000Z', expiresAt: '2026-05-04T13:02:00.000Z' }))), [], 'not for approved access');
    assert.match(statusLine('granted', view({ status: 'provisioning', approvals: [{ by: 'bob@example.com', at: '2026-05-04T12:01:00.000Z' }] })), /verifying that it works/);
  });

  it('never shows ARNs or account ids from a provider error: nobody in a channel is known to be an admin', () => {
    const failed = view({ status: 'failed', error: 'AWS refused attaching policy arn:aws:iam::123456789012:policy/Secret to IAM user alice: NoSuchEntity: Policy arn:aws:iam::123456789012:policy/Secret does not exist' });
    for (const message of [requesterMessage('failed', failed), approverMessage('failed', failed)]) {
      const text = `${message.text} ${JSON.stringify(message.blocks)}`;
      assert.doesNotMatch(text, /arn:|123456789012/);
      assert.match(text, /NoSuchEntity/);
    }
  });

  it('shows the day when the time is not on the same day', () => {
    assert.equal(clockTime('2026-05-05T09:00:00.000Z', 'UTC', '2026-05-04T12:00:00.000Z'), 'Tue 5 May 09:00 UTC');
    assert.equal(clockTime('2026-05-04T09:00:00.000Z', 'No/Such_Zone'), '09:00 UTC');
  });

  it('reads /p0 words with the shared grammar: help, one line, partial, mistakes', () => {
    assert.deepEqual(interpretSlashCommand(''), { kind: 'help' });
    assert.deepEqual(interpretSlashCommand('request -h'), { kind: 'help' });
    assert.deepEqual(interpretSlashCommand('request'), { kind: 'modal', prefill: {} });
    const full = interpretSlashCommand('request aws role AdminRole --reason \u201Cdeploy hotfix\u201D --duration 1h');
    assert.equal(full.kind, 'request');
    assert.deepEqual(full.kind === 'request' && [full.parsed.target, full.parsed.reason, full.parsed.duration], ['AdminRole', 'deploy hotfix', '1h']);
    assert.deepEqual(interpretSlashCommand('request aws role --duration 2h'), {
      kind: 'modal',
      prefill: { provider: 'aws', kind: 'role', target: undefined, resource: undefined, reason: undefined, duration: '2h', breakGlass: undefined },
    });
    // Anything but missing words is the grammar's error, word for word.
    for (const text of ['request aws --reason', 'request aws role AdminRole extra', 'request aws --duration 2x', 'approve req_1']) {
      const intent = interpretSlashCommand(text);
      assert.equal(intent.kind, 'error', text);
      assert.throws(() => parseRequestCommandLine(text, { channel: 'slack' }), (error: Error) => intent.kind === 'error' && error.message === intent.message);
    }
    assert.deepEqual(prefillForm(catalog, { provider: 'aws', kind: 'group' }), { provider: 'aws', resource: 'prod', level: 'dev', reason: undefined, duration: undefined, breakGlass: undefined });
    assert.deepEqual(prefillForm(catalog, { provider: 'aws', kind: 'role', target: 'NoSuchRole' }), { provider: 'aws', reason: undefined, duration: undefined, breakGlass: undefined });
  });
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`chat message store on ${kind}`, function () {
    let postgres: RunningPostgres | undefined;
    let tempDir: string;
    let database: Knex;
    let store: ChatMessageStore;
    const key = { platform: 'slack', requestId: 'req_1', audience: 'approvers', conversation: 'D0BOB' };

    before(async function () {
      this.timeout(15 * 60_000);
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-chat-store-'));
      if (kind === 'postgres') {
        postgres = await startPostgres();
        database = await openDatabase({ url: postgres.url });
      } else {
        database = await openDatabase({ sqlitePath: path.join(tempDir, 'p0.sqlite') });
      }
      store = new ChatMessageStore(database);
    });
    after(async () => {
      await database?.destroy();
      await postgres?.stop();
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      await database('chat_messages').del();
    });

    it('lets exactly one poster claim a message, then records it', async () => {
      const claims = await Promise.all([1, 2, 3].map(() => store.claim(key, { recipient: 'bob@example.com', version: 1 })));
      const winners = claims.filter((claim) => claim.claimed);
      assert.equal(winners.length, 1);
      const winner = winners[0]!;
      assert.ok(winner.claimed);
      await store.posted(key, winner.token, '1700000000.000100', 1);
      const again = await store.claim(key, { version: 2 });
      assert.equal(again.claimed, false);
      assert.deepEqual(await store.list('slack', 'req_1', 'approvers').then((rows) => rows.map((row) => [row.conversation, row.recipient, row.messageId, row.version])), [
        ['D0BOB', 'bob@example.com', '1700000000.000100', 1],
      ]);
    });

    it('only moves a message to a newer request version', async () => {
      const claim = await store.claim(key, { version: 3 });
      assert.ok(claim.claimed);
      await store.posted(key, claim.token, '1700000000.000200', 3);
      assert.equal(await store.advance(key, 2), false);
      assert.equal(await store.advance(key, 3), false);
      assert.equal(await store.advance(key, 5), true);
      assert.equal((await store.get(key))?.version, 5);
    });

    it('frees a claim whose post failed', async () => {
      const claim = await store.claim(key, { version: 1 });
      assert.ok(claim.claimed);
      await store.release(key, claim.token);
      assert.equal(await store.get(key), undefined);
      assert.equal((await store.claim(key, { version: 1 })).claimed, true);
    });
  });
}
