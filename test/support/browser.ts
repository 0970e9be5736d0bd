/**
 * A real browser for the sign-in tests: Debian's Chromium (scripts/ensure-chromium.sh installs it)
 * driven by playwright-core. Never `npx playwright install`: it downloads at test time.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

let browser: Promise<Browser> | undefined;

/** One browser for the run (closed at exit); each test takes its own context (its own cookies). */
export function sharedBrowser(): Promise<Browser> {
  browser ??= (async () => {
    const executablePath = execFileSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'ensure-chromium.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const launched = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    process.once('beforeExit', () => void launched.close());
    return launched;
  })();
  return browser;
}

export async function newContext(): Promise<BrowserContext> {
  const context = await (await sharedBrowser()).newContext();
  // The provider's dev pages import a web font: nothing leaves this machine.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) => route.abort());
  return context;
}

/** Fills oidc-provider's development login form (any password) and its consent page, if shown. */
export async function signInAtIdp(page: Page, login: string): Promise<void> {
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any');
  await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
  const consent = page.locator('button:has-text("Continue")');
  if (await consent.count()) await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/interaction')), consent.click()]);
}

/** The `Cookie:` header the context would send to `url`, for calls made from Node. */
export async function cookieHeader(context: BrowserContext, url: string): Promise<string> {
  return (await context.cookies(url)).map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
}

export async function closeSharedBrowser(): Promise<void> {
  if (browser) await (await browser).close();
  browser = undefined;
}
