/**
 * Entry point of the `p0` command (bin/p0.js loads it through tsx). Exits with the command's code
 * once stdout and stderr are flushed, so a piped reader gets every line.
 */
import { runCli } from './program';

function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

// `p0 ls | head -1`: the reader left; stop quietly rather than with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));
}

runCli(process.argv).then(exitAfterFlush, (error: unknown) => {
  // runCli never rejects; this is the last guard against a stack trace.
  process.stderr.write(`p0: ${error instanceof Error ? error.message : String(error)}\n`);
  exitAfterFlush(1);
});
