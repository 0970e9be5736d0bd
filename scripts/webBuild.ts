/**
 * Builds the web page (web/, React + Vite) when its sources changed, and says where the build is.
 *
 * Each build lands in web/dist/<hash>/, the hash taken over what goes into it (web/'s sources, the
 * shared/ vocabulary it imports, the lockfile): a build for these sources is used as it is, a
 * `git pull` that changes them gets a fresh one at the next start, and processes starting at once
 * never write into each other's directory (each builds into a temporary one and renames it).
 *
 * Run by `npm ci` (postinstall), by every API start-up (api/server.ts) and by the tests' harness;
 * `npx tsx scripts/webBuild.ts` prints the build's directory.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');
export const WEB_DIR = path.join(REPO_ROOT, 'web');
const DIST_DIR = path.join(WEB_DIR, 'dist');
/** Older builds are removed once this old, so a process still serving one keeps it for a while. */
const KEEP_OLD_BUILDS_MS = 60 * 60_000;

const builds = new Map<string, Promise<string>>();

/** The directory of a build of the current sources (index.html, assets/), building it first if need be. */
export function ensureWebBuild(options: { log?: (message: string) => void } = {}): Promise<string> {
  const hash = sourceHash();
  let build = builds.get(hash);
  if (!build) {
    build = buildOnce(hash, options.log ?? (() => undefined));
    builds.set(hash, build);
    // A failed build is tried again by the next caller.
    build.catch(() => builds.delete(hash));
  }
  return build;
}

async function buildOnce(hash: string, log: (message: string) => void): Promise<string> {
  const target = path.join(DIST_DIR, hash);
  if (fs.existsSync(path.join(target, 'index.html'))) return target;
  fs.mkdirSync(DIST_DIR, { recursive: true });
  const temporary = path.join(DIST_DIR, `.${hash}.${process.pid}.${Date.now()}`);
  const startedAt = Date.now();
  log(`building the web page for its current sources into ${path.relative(REPO_ROOT, target)}`);
  try {
    await runVite(temporary);
    try {
      fs.renameSync(temporary, target);
    } catch (error) {
      // Another process finished the same build first: use theirs.
      if (!fs.existsSync(path.join(target, 'index.html'))) throw error;
      fs.rmSync(temporary, { recursive: true, force: true });
    }
  } catch (error) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
  log(`web page built in ${Date.now() - startedAt} ms`);
  removeOldBuilds(hash);
  return target;
}

function runVite(outDir: string): Promise<void> {
  const vite = path.join(path.dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  const args = [vite, 'build', '--config', path.join(WEB_DIR, 'vite.config.mts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`vite build failed (${signal ?? `exit ${code}`}): ${output.trim().slice(-4000)}`));
    });
  });
}

/** What the build is made of: every file under web/ (but its builds), shared/, and the lockfile. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [...filesUnder(WEB_DIR, new Set([DIST_DIR, path.join(WEB_DIR, 'node_modules')])), ...filesUnder(path.join(REPO_ROOT, 'shared'), new Set())];
  const lockfile = path.join(REPO_ROOT, 'package-lock.json');
  if (fs.existsSync(lockfile)) files.push(lockfile);
  for (const file of files.sort()) {
    hash.update(path.relative(REPO_ROOT, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function filesUnder(dir: string, skip: ReadonlySet<string>): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (skip.has(full)) return [];
    if (entry.isDirectory()) return filesUnder(full, skip);
    return entry.isFile() ? [full] : [];
  });
}

function removeOldBuilds(current: string): void {
  const now = Date.now();
  for (const entry of fs.readdirSync(DIST_DIR, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === current) continue;
    const full = path.join(DIST_DIR, entry.name);
    try {
      if (now - fs.statSync(full).mtimeMs > KEEP_OLD_BUILDS_MS) fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
}

if (require.main === module) {
  ensureWebBuild({ log: (message) => console.error(`[p0-jit] ${message}`) }).then(
    (dir) => console.log(dir),
    (error: unknown) => {
      console.error(`[p0-jit] ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
