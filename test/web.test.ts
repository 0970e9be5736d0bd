/**
 * The web page end to end, through the page only: a real browser (Chromium through playwright-core)
 * against the real API serving the built page, a real worker on the shared Temporal dev server,
 * moto for IAM, and the real OpenID provider for sign-in. A requester asks through the Request
 * Access modal, an approver approves from Approvals in a second browser, the requester's page turns
 * Active without a reload while IAM really grants it, Relinquish really removes it. Every page is
 * scanned by axe and photographed at desktop and phone width (test/artifacts/, ignored by git).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { newContext, signInAtIdp } from './support/browser';
import { Harness } from './support/harness';
import { ensureCatalogObjects, holdings, newRequester } from './support/iam';
import { freePort } from './support/net';
import { startOidcProvider, type TestIdp } from './support/oidcProvider';

const ARTIFACTS = path.join(__dirname, 'artifacts');

/** The little of the DOM the callbacks run in the page use (the tests compile without the DOM library). */
interface PageElement {
  id: string;
  tagName: string;
  className: unknown;
  textContent: string | null;
  ownerDocument: { activeElement: unknown; documentElement: { clientWidth: number } };
  getBoundingClientRect(): { right: number };
  closest(selector: string): unknown;
  contains(other: unknown): boolean;
}
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const BOB = 'bob@example.com'; // the approver
const SEC = 'sec@example.com'; // an admin

describe('the web page (Access Management, Approvals, Audit) in a real browser', function () {
  this.timeout(90_000);
  let h: Harness;
  let idp: TestIdp;
  let appUrl: string;
  const contexts: BrowserContext[] = [];
  /** Console errors and uncaught exceptions of every page: a CSP violation shows here. */
  const pageProblems: string[] = [];
  let requester: { email: string; userName: string };
  let alice: Page; // the requester's page, never reloaded once the request is made
  let requestId: string;

  before(async () => {
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider({ redirectUris: [`${appUrl}/auth/callback`] });
    process.env.P0_OIDC_CLIENT_SECRET = idp.clientSecret;
    const config = `
approvers:
  sre: [${BOB}]
admins: [${SEC}]
approvalTimeout: 5m
verifyTimeout: 30s
catalog:
  aws:
    - resource: staging
      description: Staging, refreshed nightly
      levels:
        - level: developers
          kind: group
          target: Developers
          description: Deploy and debug in staging
          approvers: [sre]
          minDuration: 1m
          maxDuration: 4h
          defaultDuration: 1h
          durationPresets: [15m, 1h, 4h]
        - level: admin
          kind: role
          target: AdminRole
          description: Administrator, for a ticket
          approvers: [sre]
          requireReason: true
          reasonPattern: '\\b[A-Z][A-Z0-9]+-\\d+\\b'
          reasonPatternDescription: a ticket id such as INC-42
          maxDuration: 1h
    - resource: prod
      levels:
        - { level: secret, kind: policy, target: AdministratorAccess, approvers: [sre], requesters: { users: [${SEC}] } }
  gcloud:
    - resource: analytics
      project: analytics-prod
      levels:
        - { level: viewer, kind: role, target: roles/viewer, description: See everything in the project, approvers: [sre] }
gcloud:
  endpoint: http://127.0.0.1:9
  accessToken: not-used
aws:
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
auth:
  publicUrl: ${appUrl}
  oidc:
    issuer: ${idp.issuer}
    clientId: ${idp.clientId}
    allowedDomains: [example.com]
`;
    h = await Harness.start(config, { port });
    await ensureCatalogObjects(h.iam);
    requester = await newRequester(h.iam, 'web');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await h?.stop();
    await idp?.stop();
    delete process.env.P0_OIDC_CLIENT_SECRET;
  });

  /** A fresh browser (its own cookies) signed in through the IdP as `login`, on `path`. */
  async function signedIn(login: string, pagePath = '/'): Promise<Page> {
    const context = await newContext();
    contexts.push(context);
    // Every Content-Security-Policy violation reaches the console with where it came from.
    await context.addInitScript(() => {
      (globalThis as unknown as { document: { addEventListener(type: string, listener: (event: Record<string, unknown>) => void): void } }).document.addEventListener('securitypolicyviolation', (event) =>
        console.error(`CSP violation: ${String(event.violatedDirective)} ${String(event.blockedURI)} at ${String(event.sourceFile)}:${String(event.lineNumber)}:${String(event.columnNumber)} sample "${String(event.sample)}"`),
      );
    });
    const page = await context.newPage();
    await page.setViewportSize(DESKTOP);
    page.on('console', (message) => {
      // The page's own calls that the API refuses on purpose (a 400 shown inline, a 403) are logged by Chromium too.
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) {
        const { url, lineNumber, columnNumber } = message.location();
        pageProblems.push(`${login} at ${page.url()}: ${message.text()} (${url}:${lineNumber}:${columnNumber})`);
      }
    });
    page.on('pageerror', (error) => pageProblems.push(`${login}: ${error.message}`));
    // Not signed in: the page sends the browser to sign in, and back here afterwards.
    await page.goto(`${appUrl}${pagePath}`);
    await signInAtIdp(page, login);
    await page.waitForURL(`${appUrl}${pagePath}`);
    await page.getByText(`Signed in as ${login}`).waitFor();
    return page;
  }

  /** axe finds nothing serious or critical; the page is photographed at desktop and phone width. */
  async function checkAndPhotograph(page: Page, name: string): Promise<void> {
    const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
    const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
    assert.deepEqual(
      serious.map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => `${node.target.join(' ')}: ${node.html}`).join(', ')})`),
      [],
      `${name}: accessibility violations`,
    );
    // caret 'initial': hiding the caret would inject a style element, which the page's CSP refuses.
    await page.screenshot({ path: path.join(ARTIFACTS, `web-${name}-desktop.png`), fullPage: true, caret: 'initial' });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: path.join(ARTIFACTS, `web-${name}-phone.png`), fullPage: true, caret: 'initial' });
    // Nothing sticks out sideways at phone width (wide tables scroll inside their own box).
    const wider = await page.locator('body *').evaluateAll((elements: PageElement[]) =>
      elements
        .filter((element) => element.getBoundingClientRect().right > element.ownerDocument.documentElement.clientWidth + 1 && !element.closest('.table-scroll'))
        .map((element) => `${element.tagName.toLowerCase()}.${String(element.className)}`),
    );
    assert.deepEqual(wider, [], `${name}: wider than a phone`);
    await page.setViewportSize(DESKTOP);
  }

  const section = (page: Page, name: 'Pending' | 'Active' | 'History') => page.getByRole('region', { name, exact: true });
  /** The request card titled `title` within `scope` (the inner locator of `has` is rooted at the page). */
  const card = (scope: Page | Locator, title: string) =>
    scope.getByRole('article').filter({ has: ('page' in scope ? scope.page() : scope).getByRole('heading', { name: title }) });

  it('a requester signs in, opens Request Access and submits with the keyboard; the request shows under Pending', async () => {
    alice = await signedIn(requester.email);
    const response = await alice.request.get(`${appUrl}/`);
    const csp = response.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self' 'report-sample'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    const nav = alice.getByRole('navigation', { name: 'Main' });
    assert.ok(await nav.getByRole('link', { name: 'Access Management' }).isVisible());
    assert.ok(await nav.getByRole('link', { name: /^Approvals/ }).isVisible());
    assert.equal(await nav.getByRole('link', { name: 'Audit' }).count(), 0, 'no Audit link for a non-admin');
    await alice.getByRole('heading', { name: 'Activity' }).waitFor();
    // Marks this document: were the page reloaded, the mark would be gone.
    await alice.evaluate(() => ((globalThis as unknown as { p0Mark: number }).p0Mark = 42));

    await alice.getByRole('button', { name: 'Request Access' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Request Access' });
    await dialog.waitFor();
    // Focus stays in the modal, however far one tabs.
    for (let i = 0; i < 12; i++) {
      await alice.keyboard.press('Tab');
      assert.ok(await dialog.evaluate((element: PageElement) => element.contains(element.ownerDocument.activeElement)), `focus left the dialog after ${i + 1} tabs`);
    }
    // The trigger of a select is named by its value, then its label ("AWS Resource type").
    // Resource type, with the keyboard: only what the policy offers this person (AWS and Google Cloud).
    await dialog.getByRole('button', { name: /Resource type$/ }).focus();
    await alice.keyboard.press('Enter');
    const typeOptions = alice.getByRole('option');
    assert.deepEqual(await typeOptions.allTextContents(), ['AWS', 'Google Cloud']);
    await alice.keyboard.press('Enter'); // AWS, the first
    // One resource is offered (prod is not offered to this person): it is chosen for them.
    await dialog.getByRole('button', { name: 'staging Resource' }).waitFor();
    await dialog.getByRole('button', { name: /Access level$/ }).click();
    assert.deepEqual(await alice.getByRole('option').evaluateAll((options: PageElement[]) => options.map((option) => option.textContent)), [
      'developersDeploy and debug in staging',
      'adminAdministrator, for a ticket',
    ]);
    await alice.getByRole('option', { name: 'developers' }).click();
    assert.ok(await dialog.getByText('group Developers · one approval').isVisible());
    await dialog.getByRole('textbox', { name: 'Reason' }).fill('debug INC-42 from the web page');
    await dialog.getByRole('button', { name: /Duration$/ }).click();
    assert.deepEqual(await alice.getByRole('option').allTextContents(), ['15 minutes', '1 hour', '4 hours']);
    await alice.getByRole('option', { name: '15 minutes' }).click();
    assert.ok(await dialog.getByText('Between 1 minute and 4 hours. Extendable, up to 4 hours in all.').isVisible());
    await checkAndPhotograph(alice, 'request-access');

    await dialog.getByRole('button', { name: 'Submit' }).click();
    await dialog.waitFor({ state: 'detached' });
    const pending = card(section(alice, 'Pending'), 'AWS · staging · developers');
    await pending.waitFor();
    assert.match(await pending.textContent() ?? '', /Approvers\s*bob@example\.com.*Approvals\s*0 of 1/s);
    assert.ok(await pending.getByRole('button', { name: 'Cancel request' }).isVisible());
    const href = await pending.getByRole('link').getAttribute('href');
    requestId = href!.split('/').pop()!;
    const [view] = await h.requests.list({ requester: requester.email });
    assert.equal(view?.id, requestId);
    assert.equal(view?.duration, '15m');
    assert.equal(view?.reason, 'debug INC-42 from the web page');
    await checkAndPhotograph(alice, 'access-management');
  });

  it("shows the API's refusal inline on the field it concerns, and a level not offered as \"This resource doesn't exist\"", async () => {
    await alice.getByRole('button', { name: 'Request Access' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Request Access' });
    await dialog.getByRole('button', { name: /Resource type$/ }).click();
    await alice.getByRole('option', { name: 'AWS' }).click();
    await dialog.getByRole('button', { name: /Access level$/ }).click();
    await alice.getByRole('option', { name: 'admin' }).click();
    const reason = dialog.getByRole('textbox', { name: 'Reason' });
    // The level's reason rule, before anything is sent.
    assert.ok(await dialog.getByText('Approvers see it. It must contain a ticket id such as INC-42.').isVisible());
    await reason.fill('because');
    await dialog.getByRole('button', { name: 'Submit' }).click();
    const error = dialog.getByText('"because" does not contain a ticket id such as INC-42');
    await error.waitFor();
    assert.equal(await reason.getAttribute('aria-invalid'), 'true');
    // Announced with the field: its description names the error.
    const describedBy = (await reason.getAttribute('aria-describedby')) ?? '';
    assert.ok(await error.evaluate((element: PageElement, ids) => ids.split(' ').includes(element.id), describedBy), 'the error describes the reason field');
    await alice.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    await alice.goto(`${appUrl}/?request=aws/prod/secret`);
    const linked = alice.getByRole('dialog', { name: 'Request Access' });
    await linked.getByText("This resource doesn't exist").waitFor();
    await alice.keyboard.press('Escape');
    await linked.waitFor({ state: 'detached' });
    // A new document now: mark it for the next test.
    await alice.evaluate(() => ((globalThis as unknown as { p0Mark: number }).p0Mark = 42));
  });

  it('the approver approves from Approvals; the requester sees Active without a reload, and IAM grants it', async () => {
    // What reaches the requester's page on its event stream (GET /v1/events), read through Chromium's DevTools protocol.
    const streamed: Array<{ type: string; status: string }> = [];
    const devtools = await alice.context().newCDPSession(alice);
    devtools.on('Network.eventSourceMessageReceived', ({ eventName, data }) => {
      if (eventName !== 'request') return;
      const change = JSON.parse(data) as { type: string; request: { id: string; status: string } };
      if (change.request.id === requestId) streamed.push({ type: change.type, status: change.request.status });
    });
    await devtools.send('Network.enable');
    const bob = await signedIn(BOB, '/approvals');
    await bob.getByRole('link', { name: /^Approvals 1 waiting for me/ }).waitFor();
    const waiting = card(bob.getByRole('region', { name: 'Waiting for me' }), 'AWS · staging · developers');
    await waiting.waitFor();
    assert.match(await waiting.textContent() ?? '', new RegExp(`Requester\\s*${requester.email.replace(/\./g, '\\.')}.*debug INC-42 from the web page.*Needs one approval`, 's'));
    await checkAndPhotograph(bob, 'approvals');
    // Deny asks for a reason: without one it is not sent.
    await waiting.getByRole('button', { name: 'Deny' }).click();
    const deny = bob.getByRole('dialog', { name: 'Deny the request' });
    await deny.getByRole('button', { name: 'Deny' }).click();
    assert.equal(await deny.getByRole('textbox', { name: 'Reason' }).evaluate((element: PageElement & { validity: { valueMissing: boolean } }) => element.validity.valueMissing), true);
    await bob.keyboard.press('Escape');
    await deny.waitFor({ state: 'detached' });
    await waiting.getByRole('textbox', { name: 'Comment (optional)' }).fill('go ahead');
    await waiting.getByRole('button', { name: 'Approve' }).click();
    await bob.getByText('Nothing is waiting for you.').waitFor();

    // The requester's page, untouched: the event stream moves the request to Active.
    const active = card(section(alice, 'Active'), 'AWS · staging · developers');
    await active.getByText('Usable since').waitFor({ timeout: 30_000 });
    assert.equal(await alice.evaluate(() => (globalThis as unknown as { p0Mark?: number }).p0Mark), 42, 'the page was not reloaded');
    assert.ok(streamed.some((change) => change.type === 'approved'), `the stream told of the approval: ${JSON.stringify(streamed)}`);
    assert.ok(streamed.some((change) => change.type === 'active' && change.status === 'active'), `the stream told of the access becoming active: ${JSON.stringify(streamed)}`);
    await devtools.detach();
    assert.match(await active.textContent() ?? '', /Time left\s*1[45]m \d\ds.*Approved by\s*bob@example\.com/s);
    assert.ok((await holdings(h.iam, requester.userName)).groups.includes('Developers'), 'IAM grants the group');
    assert.ok(await active.getByRole('button', { name: 'Extend' }).isVisible());
    await checkAndPhotograph(alice, 'access-management-active');
  });

  it('Relinquish ends the access; the page shows the removal confirmed, and IAM no longer grants it', async () => {
    const active = card(section(alice, 'Active'), 'AWS · staging · developers');
    await active.getByRole('button', { name: 'Relinquish' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Relinquish access' });
    await dialog.getByRole('textbox', { name: 'Comment (optional)' }).fill('done debugging');
    await dialog.getByRole('button', { name: 'Relinquish' }).click();
    const ended = card(section(alice, 'History'), 'AWS · staging · developers');
    await ended.getByText(/confirmed gone at/).waitFor({ timeout: 30_000 });
    assert.match(await ended.textContent() ?? '', /relinquished by web-.*: “done debugging”/);
    assert.deepEqual((await holdings(h.iam, requester.userName)).groups, [], 'IAM no longer grants the group');

    await ended.getByRole('link').click();
    await alice.getByRole('heading', { name: 'Audit trail' }).waitFor();
    const trail = alice.getByRole('list').filter({ hasText: 'requested by' });
    await trail.getByText('relinquished by').waitFor();
    assert.match(await trail.textContent() ?? '', /requested by .*approved by bob@example\.com.*active by .*relinquished by .*removal confirmed/s);
    await checkAndPhotograph(alice, 'request');
  });

  it('a non-admin cannot reach Audit; an admin filters it, revokes active access (IAM no longer grants it) and exports CSV', async () => {
    // Access to revoke: asked and approved through the API (the page's own flow is tested above).
    const second = await h.request(requester.email, { provider: 'aws', resource: 'staging', level: 'developers', reason: 'second look INC-42', duration: '15m' });
    await h.act(BOB, second.id, 'approve', 'ok');
    await h.waitFor(requester.email, second.id, ['active']);
    assert.ok((await holdings(h.iam, requester.userName)).groups.includes('Developers'));

    await alice.goto(`${appUrl}/audit`);
    await alice.getByText('Only admins can see the audit trail.').waitFor();
    assert.equal(await alice.evaluate(async () => (await fetch('/v1/audit')).status), 403);

    const sec = await signedIn(SEC, '/audit');
    assert.ok(await sec.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).isVisible());
    await sec.getByRole('textbox', { name: 'Person' }).fill(requester.email);
    await sec.getByRole('button', { name: 'Apply filters' }).click();
    await sec.getByRole('heading', { name: 'Requests (2)' }).waitFor();
    await sec.getByRole('link', { name: requestId }).waitFor();
    await checkAndPhotograph(sec, 'audit');

    const row = sec.getByRole('row').filter({ has: sec.getByRole('link', { name: second.id }) });
    await row.getByRole('button', { name: 'Revoke' }).click();
    const revoke = sec.getByRole('dialog', { name: 'Revoke access' });
    await revoke.getByRole('textbox', { name: 'Reason (optional)' }).fill('audit clean-up');
    await revoke.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('Revoked').waitFor({ timeout: 30_000 });
    assert.deepEqual((await holdings(h.iam, requester.userName)).groups, [], 'IAM no longer grants the group');
    const csvHref = await sec.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
    const csv = await sec.evaluate(async (href) => {
      const answer = await fetch(href!);
      return { type: answer.headers.get('content-type'), text: await answer.text() };
    }, csvHref);
    assert.match(csv.type ?? '', /^text\/csv/);
    assert.match(csv.text, /^at,request,event,actor,requester,/);
    assert.match(csv.text, new RegExp(`,${requestId},relinquished,`));

    // A filter the API refuses is shown on its field.
    await sec.getByRole('textbox', { name: 'Person' }).fill('not an address');
    await sec.getByRole('button', { name: 'Apply filters' }).click();
    await sec.getByText('"not an address" is not an email address').waitFor();
  });

  it('kept to its Content-Security-Policy: no violation or script error on any page', () => {
    assert.deepEqual(pageProblems, []);
  });
});
