/**
 * Every size, repeat and wait of the benchmark, from BENCH_* environment variables, so a quick run
 * (seconds: `npm run bench -- --quick`) and the full run are the same code with other numbers.
 * `--quick` only changes the defaults; a variable that is set always wins.
 */

/** What `--quick` uses where a variable is unset: every phase runs and prints its table in about a minute. */
const QUICK_DEFAULTS: Record<string, string> = {
  BENCH_OVERHEAD_REQUESTS: '6',
  BENCH_LATENESS_REQUESTS: '3',
  BENCH_LATENESS_SECONDS: '2,5',
  BENCH_THROUGHPUT: '1,4',
  BENCH_REPEATS: '3',
  BENCH_CHAT_CLICKS: '3',
  BENCH_SCALE: '20,40',
  BENCH_SCALE_SETTLE_S: '3',
  BENCH_SCALE_EXPIRING: '10',
  BENCH_SCALE_EXPIRING_S: '5',
};

export const PHASES = ['overhead', 'lateness', 'throughput', 'scan', 'chat', 'scale'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchSettings {
  quick: boolean;
  /** Only print one request's steps from approve to active (`--trace`). */
  traceOnly: boolean;
  phases: Phase[];
  overheadRequests: number;
  overheadAtOnce: number;
  /** Grant lengths (seconds) whose revocation lateness is measured, each with latenessRequests requests. */
  latenessSeconds: number[];
  latenessRequests: number;
  /** One new request every this many ms (an arrival rate, so expiries are spread like real ones). */
  latenessEveryMs: number;
  throughputSizes: number[];
  /** Product/bare pairs per size, alternated (ABAB). */
  repeats: number;
  /** How often the status watcher asks the API (GET /v1/requests?status=...). */
  pollMs: number;
  /** The bench's API process's per-token limit (API_RATE_LIMIT_PER_MINUTE); see docs/performance.md. */
  apiRateLimitPerMinute: number;
  /** Longest wait for a request to reach a status before the bench fails. */
  waitTimeoutMs: number;
  /** ListUserTags in flight at once in the measured scan (the product's TAG_READ_CONCURRENCY today). */
  scanConcurrency: number;
  chatClicks: number;
  scaleSteps: number[];
  scaleAtOnce: number;
  /** After a step's grants are all active, RSS is sampled this long for the steady figure. */
  scaleSettleMs: number;
  /** Grants started together after the last scale step, to expire in one bunch (0: none). */
  scaleExpiring: number;
  scaleExpiringSeconds: number;
  /** The scale phase skips the steps that would start past this (default: no budget). */
  scaleBudgetMs: number;
  /** The product as two processes (worker, API) or one (`npm start`); see bench/services.ts. */
  productShape: 'split' | 'whole';
  /** LOG_LEVEL of the product's processes (info logs every HTTP call; the old bench ran at warn). */
  productLogLevel: string;
}

export function benchSettings(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const unknown = argv.filter((arg) => arg !== '--quick' && arg !== '--trace');
  if (unknown.length > 0) throw new Error(`unknown argument(s) ${unknown.join(' ')}: use --quick and/or --trace`);
  const quick = argv.includes('--quick');
  const read = (name: string, fallback: string): string => env[name]?.trim() || (quick ? QUICK_DEFAULTS[name] : undefined) || fallback;
  const whole = (name: string, fallback: number, min = 1): number => {
    const raw = read(name, String(fallback));
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number >= ${min} (got "${raw}")`);
    return value;
  };
  const list = (name: string, fallback: string, min = 1): number[] => {
    const raw = read(name, fallback);
    const values = raw.split(',').map((part) => Number(part.trim()));
    if (values.length === 0 || values.some((value) => !Number.isInteger(value) || value < min)) {
      throw new Error(`${name} must be a comma-separated list of whole numbers >= ${min} (got "${raw}")`);
    }
    return values;
  };
  const phaseNames = read('BENCH_PHASES', PHASES.join(','))
    .split(',')
    .map((part) => part.trim());
  const badPhase = phaseNames.find((name) => !(PHASES as readonly string[]).includes(name));
  if (badPhase !== undefined) throw new Error(`BENCH_PHASES: no phase "${badPhase}" (phases: ${PHASES.join(', ')})`);
  const budget = env.BENCH_SCALE_BUDGET_S?.trim();
  return {
    quick,
    traceOnly: argv.includes('--trace'),
    phases: phaseNames as Phase[],
    overheadRequests: whole('BENCH_OVERHEAD_REQUESTS', 200),
    overheadAtOnce: whole('BENCH_OVERHEAD_AT_ONCE', 10),
    latenessSeconds: list('BENCH_LATENESS_SECONDS', '2,60'),
    latenessRequests: whole('BENCH_LATENESS_REQUESTS', 100),
    latenessEveryMs: whole('BENCH_LATENESS_EVERY_MS', 250),
    throughputSizes: list('BENCH_THROUGHPUT', '1,50,500'),
    repeats: whole('BENCH_REPEATS', 3),
    pollMs: whole('BENCH_POLL_MS', 25),
    apiRateLimitPerMinute: whole('BENCH_API_RATE_LIMIT', 1_000_000),
    waitTimeoutMs: whole('BENCH_WAIT_TIMEOUT_S', 600) * 1000,
    scanConcurrency: whole('BENCH_SCAN_CONCURRENCY', 10),
    chatClicks: whole('BENCH_CHAT_CLICKS', 50),
    scaleSteps: list('BENCH_SCALE', '1000,2000,5000,10000'),
    scaleAtOnce: whole('BENCH_SCALE_AT_ONCE', 50),
    scaleSettleMs: whole('BENCH_SCALE_SETTLE_S', 30) * 1000,
    scaleExpiring: whole('BENCH_SCALE_EXPIRING', 1000, 0),
    scaleExpiringSeconds: whole('BENCH_SCALE_EXPIRING_S', 60),
    scaleBudgetMs: budget ? whole('BENCH_SCALE_BUDGET_S', 1) * 1000 : Number.POSITIVE_INFINITY,
    productShape: shape(read('BENCH_PRODUCT_SHAPE', 'split')),
    productLogLevel: read('BENCH_LOG_LEVEL', 'warn'),
  };
}

function shape(raw: string): 'split' | 'whole' {
  if (raw !== 'split' && raw !== 'whole') throw new Error(`BENCH_PRODUCT_SHAPE must be split or whole (got "${raw}")`);
  return raw;
}
