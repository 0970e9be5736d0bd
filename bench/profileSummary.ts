/**
 * `tsx bench/profileSummary.ts <dir>`: what the V8 CPU profiles a BENCH_CPU_PROFILE run wrote say,
 * per process and thread: self time by package (or by the product's own source directory) and the
 * costliest functions, so a change to the product's hot path can be weighed before and after.
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A profile node's owner: a package under node_modules, the product's top directory, or a V8/Node bucket. */
function ownerOf(url: string, functionName: string): string {
  if (!url) return `(${functionName || 'anonymous'})`;
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch) return packageMatch[1]!;
  if (url.startsWith('node:')) return url;
  const repo = path.resolve(__dirname, '..');
  const file = url.replace(/^file:\/\//, '');
  if (file.startsWith(repo)) return path.relative(repo, file).split('/').slice(0, 2).join('/');
  return url.split('/').slice(-2).join('/');
}

function summarise(file: string, top: number): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index += 1) {
    const id = profile.samples[index]!;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  }
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of selfMs) {
    const { callFrame } = byId.get(id)!;
    if (callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    total += ms;
    const owner = ownerOf(callFrame.url, callFrame.functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
    const name = `${callFrame.functionName || '(anonymous)'} ${owner}:${callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  }
  const rows = (map: Map<string, number>) =>
    [...map]
      .sort(([, a], [, b]) => b - a)
      .slice(0, top)
      .map(([name, ms]) => `    ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  // Inclusive time of the product's own functions: every sample counts once for each distinct
  // product function on its stack (async stacks are cut at each await, so this is per synchronous run).
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const repo = path.resolve(__dirname, '..');
  const inclusive = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const { callFrame } = byId.get(at)!;
      const file = callFrame.url.replace(/^file:\/\//, '');
      if (!file.startsWith(repo) || file.includes('node_modules')) continue;
      const name = `${callFrame.functionName || '(anonymous)'} ${path.relative(repo, file)}:${callFrame.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  return [`  busy ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms, of ${wallMs.toFixed(0)} ms profiled`, '  self time by owner:', rows(byOwner), '  self time by function:', rows(byFunction), "  inclusive time of the product's functions:", rows(inclusive)].join('\n');
}

function main(): void {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: tsx bench/profileSummary.ts <BENCH_CPU_PROFILE dir> [top N]');
  const top = Number(process.argv[3] ?? 25);
  const labels = new Map<string, string>();
  const processesFile = path.join(dir, 'processes.txt');
  if (fs.existsSync(processesFile)) {
    for (const line of fs.readFileSync(processesFile, 'utf8').split('\n').filter(Boolean)) {
      const [pid, ...label] = line.split(' ');
      labels.set(pid!, label.join(' '));
    }
  }
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).sort()) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
    const [, , , pid, thread] = file.split('.');
    console.log(`${file}: ${labels.get(pid!) ?? 'unknown process'}, thread ${thread}`);
    console.log(summarise(path.join(dir, file), top));
  }
}

main();
