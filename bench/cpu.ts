/**
 * CPU time by component, read from /proc: where a run's cores went. The throughput and overhead
 * figures are ratios of wall time on 2 shared cores, so when the machine is saturated the cost of a
 * lifecycle is the CPU every process spends on it (the engine, moto, the product's worker and API,
 * the bench itself), and this splits it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export type Component = 'temporal' | 'moto' | 'worker' | 'api' | 'bare worker' | 'bench' | 'other';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** Which component a process is, from its command line. */
function componentOf(pid: number, cmdline: string): Component {
  if (pid === process.pid) return 'bench';
  if (/worker\/main\.ts|bench\/noopWorker\.ts|scripts\/start\.ts/.test(cmdline)) return 'worker';
  if (/api\/main\.ts/.test(cmdline)) return 'api';
  if (/bareWorker/.test(cmdline)) return 'bare worker';
  if (/\btemporal\b.*server|temporal-test-server/.test(cmdline)) return 'temporal';
  if (/moto/.test(cmdline)) return 'moto';
  return 'other';
}

export interface CpuSnapshot {
  at: number;
  /** CPU ms per live process, keyed by pid, with its component. */
  processes: Map<number, { component: Component; ms: number }>;
  /** Busy ms of the whole machine (all cores), from /proc/stat. */
  machineBusyMs: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const processes = new Map<number, { component: Component; ms: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name: state is field 3; utime and stime are 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (ticks === 0) continue;
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      processes.set(pid, { component: componentOf(pid, cmdline), ms: (ticks * 1000) / TICKS_PER_SECOND });
    } catch {
      // The process ended between readdir and read: its CPU is not counted (nor was it in the run).
    }
  }
  const cpuLine = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
  const busyTicks = cpuLine.reduce((sum, value) => sum + value, 0) - (cpuLine[3] ?? 0) - (cpuLine[4] ?? 0);
  return { at: Date.now(), processes, machineBusyMs: (busyTicks * 1000) / TICKS_PER_SECOND };
}

export interface CpuUse {
  wallMs: number;
  /** CPU ms per component over the interval (processes alive at both ends, or started in between). */
  byComponent: Record<Component, number>;
  /** Busy ms of the whole machine over the interval, all cores together. */
  machineBusyMs: number;
}

export function cpuSince(start: CpuSnapshot, end: CpuSnapshot = cpuSnapshot()): CpuUse {
  const byComponent: Record<Component, number> = { temporal: 0, moto: 0, worker: 0, api: 0, 'bare worker': 0, bench: 0, other: 0 };
  for (const [pid, now] of end.processes) {
    const before = start.processes.get(pid)?.ms ?? 0;
    byComponent[now.component] += Math.max(0, now.ms - before);
  }
  return { wallMs: end.at - start.at, byComponent, machineBusyMs: end.machineBusyMs - start.machineBusyMs };
}

/** "temporal 12.3 s, moto 4.1 s, ..." with each component's CPU per `perCount` items (ms each). */
export function describeCpu(use: CpuUse, perCount: number): string {
  const parts = Object.entries(use.byComponent)
    .filter(([, cpuMs]) => cpuMs >= 1)
    .sort(([, a], [, b]) => b - a)
    .map(([component, cpuMs]) => `${component} ${Math.round(cpuMs / perCount)} ms`);
  return `${parts.join(', ')} per lifecycle; machine busy ${Math.round((100 * use.machineBusyMs) / use.wallMs)}% of one core`;
}
