/** `p0 login` and `p0 logout`: the stored API URL and token (cli/config.ts). */
import type { Command } from 'commander';
import { ApiClient, ApiError, type ResourceEntry } from './api';
import { examples, type CommandContext } from './commandContext';
import {
  configPath,
  DEFAULT_API_URL,
  insecureHttpAllowedByEnv,
  insecureHttpRefusal,
  normalizeApiUrl,
  readStoredConfig,
  writeStoredConfig,
} from './config';
import { CliError } from './errors';
import { loginThroughBrowser, loginWithDevice } from './browserLogin';
import { promptSecret } from './prompt';

export function addSessionCommands(program: Command, { io }: CommandContext): void {
  program
    .command('login')
    .description('Sign in (through the browser, or with a device code) and store the API URL and your personal token')
    .option('--url <url>', `the p0 server (default: P0_API_URL, the stored URL, or ${DEFAULT_API_URL})`)
    .option('--no-browser', 'only print the sign-in link; do not open a browser')
    .option('--device', 'sign in from another device: shows a short code to type at <server>/device')
    .option('--token <token>', 'use this API token instead of signing in (automation, `npm run token`)')
    .option('--ask-token', 'ask for an API token on the terminal (unechoed) instead of signing in')
    .option('--insecure-http', 'allow sending the token over plain http:// to a host that is not this machine (stored with the URL)')
    .addHelpText(
      'after',
      examples([
        'p0 login --url https://p0.example.com      # opens the browser; the token arrives by itself',
        'p0 login --no-browser                      # same URL as before; only prints the link',
        'p0 login --device                          # no browser here: type the code on another device',
        `p0 login --url ${DEFAULT_API_URL} --token p0_...   # automation`,
      ]) + `\nStored in ${configPath(io.env)} (mode 0600).\n`,
    )
    .action(async (options: { url?: string; token?: string; askToken?: boolean; device?: boolean; browser?: boolean; insecureHttp?: boolean }) => {
      // A broken config file is what login repairs, so it does not stop login.
      const stored = (() => {
        try {
          return readStoredConfig(io.env);
        } catch {
          return {};
        }
      })();
      const apiUrl = options.url
        ? normalizeApiUrl(options.url, '--url')
        : io.env.P0_API_URL
          ? normalizeApiUrl(io.env.P0_API_URL, 'P0_API_URL')
          : stored.apiUrl ?? DEFAULT_API_URL;
      const allowInsecureHttp = options.insecureHttp === true || insecureHttpAllowedByEnv(io.env);
      // Refused before asking for the token: it would not be sent anyway.
      const refusal = insecureHttpRefusal({ apiUrl, allowInsecureHttp });
      if (refusal) throw new CliError(refusal);
      let token = options.token?.trim();
      if (!token && options.token !== undefined) throw new CliError('--token is empty: give the token itself, e.g. p0 login --token p0_...');
      if (!token && options.askToken) {
        if (!io.stdinIsTTY) throw new CliError('no token: give it with p0 login --token TOKEN (p0 can only ask for it on a terminal)');
        token = await promptSecret(`Token for ${apiUrl}: `);
        if (!token) throw new CliError('no token given: nothing saved');
      }
      if (!token) {
        const received = options.device ? await loginWithDevice({ apiUrl, io }) : await loginThroughBrowser({ apiUrl, io, openBrowser: options.browser !== false });
        token = received.token;
      }
      const client = new ApiClient({ apiUrl, token, allowInsecureHttp });
      let resources: ResourceEntry[];
      let who: string;
      try {
        who = (await client.me()).email;
        resources = await client.resources();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          throw new CliError(`the p0 API at ${apiUrl} refused this token (${error.code === 'token_expired' ? 'expired' : 'invalid or revoked'}): nothing saved; check it or ask for a new one`);
        }
        throw error;
      }
      // The permission for plain http is given (or taken back) by each login, for this URL only.
      const file = writeStoredConfig({ apiUrl, token, ...(options.insecureHttp ? { insecureHttp: true } : {}) }, io.env);
      if (allowInsecureHttp && insecureHttpRefusal({ apiUrl })) {
        io.stderr.write(`p0: warning: the token travels over plain http to ${apiUrl}: anyone on the network path can read it\n`);
      }
      io.stdout.write(
        `Logged in to ${apiUrl} as ${who}: the token works (${resources.length} resource${resources.length === 1 ? '' : 's'} you can request, see p0 ls).\nSaved in ${file}\n`,
      );
      if (io.env.P0_TOKEN) io.stderr.write('p0: note: P0_TOKEN is set in your environment and overrides the stored token\n');
    });

  program
    .command('logout')
    .description('Revoke the stored token at the server and forget it (the API URL stays)')
    .addHelpText('after', examples(['p0 logout']))
    .action(async () => {
      const stored = readStoredConfig(io.env);
      if (!stored.token) {
        io.stdout.write(`No token stored in ${configPath(io.env)}\n`);
        return;
      }
      const apiUrl = stored.apiUrl ?? DEFAULT_API_URL;
      let revoked = 'revoked it at the server';
      try {
        await new ApiClient({ apiUrl, token: stored.token, allowInsecureHttp: stored.insecureHttp === true || insecureHttpAllowedByEnv(io.env) }).revokeOwnToken();
      } catch (error) {
        // Forgetting it is what matters here; a token the server no longer takes needs no revoking.
        if (error instanceof ApiError && error.status === 401) revoked = 'the server no longer accepted it';
        else if (error instanceof CliError) {
          revoked = 'could not revoke it at the server';
          io.stderr.write(`p0: warning: ${error.message}; the token stays valid until it expires\n`);
        } else throw error;
      }
      const file = writeStoredConfig({ apiUrl: stored.apiUrl }, io.env);
      io.stdout.write(`Logged out: ${revoked} and removed it from ${file}\n`);
    });
}
