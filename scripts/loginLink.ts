/**
 * `npm run login-link -- <email>`: prints a one-time sign-in link (10 minutes, used once, stored
 * hashed) for the embedded default with no identity provider, or with `auth.loginLinks: true`.
 */
import { parseArgs } from 'node:util';
import { LivePolicy } from '../service/livePolicy';
import { resolveConfigPath } from '../config/load';
import { databaseUrlFromEnv, openDatabase } from '../db/database';
import { SignInStore } from '../db/signInStore';
import { TokenStore } from '../db/tokenStore';
import { SignInService } from '../service/signIn';
import { runMain } from '../service/runtime';

const USAGE = 'usage: npm run login-link -- <email>';

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new Error(`give one email address\n${USAGE}`);
  const policy = LivePolicy.load(resolveConfigPath());
  const database = await openDatabase({ url: databaseUrlFromEnv() });
  try {
    const port = process.env.PORT ?? '8080';
    const signIn = new SignInService({
      policy,
      store: new SignInStore(database),
      tokens: new TokenStore(database),
      // Without auth.publicUrl the link points at `npm start`'s default address.
      listeningUrl: () => `http://${process.env.HOST ?? '127.0.0.1'}:${port}`,
    });
    const link = await signIn.createLoginLink(positionals[0]!);
    console.log(link);
    console.error('(works once, for 10 minutes: open it in the browser that should be signed in)');
  } finally {
    policy.close();
    await database.destroy();
  }
}

runMain('p0 login-link', main);
