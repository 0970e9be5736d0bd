/**
 * Shell completion against an API that answers with hostile names: the generated bash script is
 * sourced by real bash, `_p0_complete` runs as on TAB (COMP_WORDS/COMP_CWORD set) and calls the real
 * `p0 __complete` (node bin/p0.js), which asks a fake API for the catalog and the requests. Nothing the
 * API sends may run, and no name that the shell would interpret is offered.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { CliHome } from './support/cliProcess';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..');

describe('p0 completion against hostile API answers', function () {
  this.timeout(60_000);
  let home: CliHome;
  let api: http.Server;
  let apiUrl: string;
  let marker: string;
  let binDir: string;
  let script: string;

  before(async () => {
    home = new CliHome();
    marker = path.join(home.dir, 'pwned');
    const hostile = [`$(touch ${marker})`, `\`touch ${marker}\``, `x;touch ${marker}`, `a b`, `*`];
    const resources = [
      { provider: 'aws', kind: 'role', target: 'AdminRole' },
      { provider: 'aws', kind: 'role', target: 'arn:aws:iam::123456789012:role/ops/Deploy' },
      ...hostile.map((target) => ({ provider: 'aws', kind: 'role', target })),
      { provider: 'aws', kind: `$(touch ${marker})`, target: 'x' },
      { provider: `$(touch ${marker})`, kind: 'role', target: 'x' },
    ];
    const requests = [{ id: 'req_01ARZ3NDEKTSV4RRFFQ69G5FAV' }, { id: `$(touch ${marker})` }];
    api = http.createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.url === '/v1/resources') return response.end(JSON.stringify({ resources }));
      if (request.url?.startsWith('/v1/requests')) return response.end(JSON.stringify({ requests }));
      response.statusCode = 404;
      response.end(JSON.stringify({ error: { code: 'not_found', message: 'no' } }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;

    // `p0` on PATH, as a user who installed it has it.
    binDir = path.join(home.dir, 'bin');
    fs.mkdirSync(binDir);
    fs.writeFileSync(path.join(binDir, 'p0'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, 'bin', 'p0.js')}" "$@"\n`, { mode: 0o755 });
    const generated = await home.run(['completion', 'bash']);
    assert.equal(generated.code, 0, generated.stderr);
    script = path.join(home.dir, 'p0-completion.bash');
    fs.writeFileSync(script, generated.stdout);
  });
  beforeEach(() => fs.rmSync(marker, { force: true }));
  after(async () => {
    await new Promise((resolve) => api.close(resolve));
    home.remove();
  });

  /** What TAB offers after `words` (the last one is the word being typed), run by real bash. */
  async function complete(words: string[]): Promise<string[]> {
    const program = [
      `source ${JSON.stringify(script)}`,
      `COMP_WORDS=(${words.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_p0_complete',
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
    ].join('\n');
    const { stdout } = await execFileAsync('bash', ['--norc', '--noprofile', '-c', program], {
      cwd: home.dir,
      env: { PATH: `${binDir}:${process.env.PATH}`, HOME: home.dir, XDG_CONFIG_HOME: home.configHome, P0_API_URL: apiUrl, P0_TOKEN: 'token' },
    });
    return stdout.split('\n').filter((line) => line !== '');
  }

  it('never runs a target, kind, provider or request id the API sends, and offers only plain names', async () => {
    // A file named like a glob's match sits in the directory bash runs in.
    fs.writeFileSync(path.join(home.dir, 'AdminRole-glob'), '');
    assert.deepEqual(await complete(['p0', 'request', 'aws', 'role', '']), ['AdminRole', 'arn:aws:iam::123456789012:role/ops/Deploy']);
    assert.deepEqual(await complete(['p0', 'request', 'aws', 'role', 'Ad']), ['AdminRole']);
    assert.deepEqual(await complete(['p0', 'request', 'aws', '']), ['role']);
    assert.deepEqual(await complete(['p0', 'request', '']), ['aws']);
    assert.deepEqual(await complete(['p0', 'approve', '']), ['req_01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    assert.equal(fs.existsSync(marker), false, 'a name from the API ran as a command on TAB');
  });

  it('p0 __complete prints one plain candidate per line, leaving out names the shell would interpret', async () => {
    const env = { env: { P0_API_URL: apiUrl, P0_TOKEN: 'token' } };
    const targets = await home.run(['__complete', 'request', 'aws', 'role'], env);
    assert.equal(targets.stdout, 'AdminRole\narn:aws:iam::123456789012:role/ops/Deploy\n');
    assert.equal((await home.run(['__complete', 'approve'], env)).stdout, 'req_01ARZ3NDEKTSV4RRFFQ69G5FAV\n');
  });

  it('still completes commands and options, and a word being typed that looks like a command runs nothing', async () => {
    assert.ok((await complete(['p0', 're'])).includes('request'));
    assert.ok((await complete(['p0', 'request', '--re'])).includes('--reason'));
    assert.deepEqual(await complete(['p0', 'request', 'aws', 'role', `$(touch ${marker})`]), []);
    assert.equal(fs.existsSync(marker), false);
  });
});
