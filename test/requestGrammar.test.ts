/**
 * The request grammar shared by the CLI and the Slack one-line command: what it accepts, how it
 * refuses (one message naming the problem plus the usage line), and the shell-like tokenizer.
 */
import assert from 'node:assert/strict';
import {
  createRequestBody,
  parseDurationWord,
  parseRequestCommandLine,
  parseRequestWords,
  REQUEST_OPTIONS,
  RequestGrammarError,
  requestUsage,
  tokenizeCommandLine,
  type RequestChannel,
} from '../shared/requestGrammar';

/** The grammar error for `words`, checked to carry the channel's usage line. */
function refusal(words: string[], channel: RequestChannel = 'cli'): RequestGrammarError {
  try {
    parseRequestWords(words, { channel });
  } catch (error) {
    assert.ok(error instanceof RequestGrammarError, `not a RequestGrammarError: ${String(error)}`);
    assert.equal(error.message, `${error.problem}\nusage: ${requestUsage(channel)}`);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(words)}`);
}

describe('request grammar', () => {
  describe('parseRequestWords', () => {
    it('reads provider, kind, target and the options, in any order', () => {
      assert.deepEqual(parseRequestWords(['aws', 'role', 'AdminRole', '--reason', 'deploy hotfix', '--duration', '1h', '--wait']), {
        provider: 'aws',
        kind: 'role',
        target: 'AdminRole',
        reason: 'deploy hotfix',
        duration: '1h',
        breakGlass: false,
        wait: true,
        json: false,
      });
      const mixed = parseRequestWords(['--duration=2h', 'aws', '--reason=x', 'group', '--json', 'Developers']);
      assert.deepEqual([mixed.provider, mixed.kind, mixed.target, mixed.duration, mixed.reason, mixed.json], ['aws', 'group', 'Developers', '2h', 'x', true]);
    });

    it('has no defaults of its own: what is not said is left to the policy', () => {
      assert.deepEqual(parseRequestWords(['aws', 'group', 'Developers']), {
        provider: 'aws',
        kind: 'group',
        target: 'Developers',
        breakGlass: false,
        wait: false,
        json: false,
      });
    });

    it('takes --account and --resource as the same thing, and the later-feature words', () => {
      assert.equal(parseRequestWords(['aws', 'role', 'AdminRole', '--account', 'prod']).resource, 'prod');
      assert.equal(parseRequestWords(['aws', 'role', 'AdminRole', '--resource=prod']).resource, 'prod');
      assert.match(refusal(['aws', 'role', 'AdminRole', '--account', 'prod', '--resource', 'staging']).problem, /--resource is given twice/);
      const later = parseRequestWords(['k8s', 'role', 'view', '--namespace', 'payments', '--break-glass', '--start-at', '2026-05-04T09:00Z']);
      assert.deepEqual([later.namespace, later.breakGlass, later.startAt], ['payments', true, '2026-05-04T09:00:00.000Z']);
    });

    it('reads --start-at as ISO 8601, with or without a zone in the CLI (local time there)', () => {
      assert.equal(parseRequestWords(['aws', 'role', 'R', '--start-at', '2026-05-04T09:00+02:00']).startAt, '2026-05-04T07:00:00.000Z');
      assert.equal(parseRequestWords(['aws', 'role', 'R', '--start-at', '2026-05-04T09:00']).startAt, new Date(2026, 4, 4, 9, 0).toISOString());
      assert.equal(parseRequestWords(['aws', 'role', 'R', '--start-at', '2026-05-04']).startAt, new Date(2026, 4, 4).toISOString());
      assert.match(refusal(['aws', 'role', 'R', '--start-at', 'tomorrow']).problem, /^--start-at: "tomorrow" is not a time: use ISO 8601/);
      assert.match(refusal(['aws', 'role', 'R', '--start-at', '2026-13-45T09:00']).problem, /is not a time/);
      assert.match(refusal(['aws', 'role', 'R', '--start-at', '2026-02-30T09:00']).problem, /is not a time/);
      assert.match(refusal(['aws', 'role', 'R', '--start-at', '2026-05-04T25:00']).problem, /is not a time/);
      assert.equal(parseRequestWords(['aws', 'role', 'R', '--start-at', '2026-05-04Z']).startAt, '2026-05-04T00:00:00.000Z');
      // A chat has no time zone of its own.
      assert.match(refusal(['aws', 'role', 'R', '--start-at', '2026-05-04T09:00'], 'slack').problem, /has no time zone: add one, e.g. 2026-05-04T09:00Z/);
    });

    it('lets -- end the options, for a target that starts with a dash', () => {
      assert.equal(parseRequestWords(['aws', 'role', '--reason', 'x', '--', '-odd-role']).target, '-odd-role');
    });

    it('checks duration syntax, naming the whole phrase', () => {
      assert.equal(
        refusal(['aws', 'group', 'Developers', '--duration', '2', 'hours']).problem,
        '--duration: "2 hours" is not a duration: use a whole number and one unit, e.g. 90s, 15m, 2h or 1d',
      );
      assert.match(refusal(['aws', 'group', 'Developers', '--duration', '1h30m']).problem, /^--duration: "1h30m" is not a duration/);
      assert.match(refusal(['aws', 'group', 'Developers', '--duration=0m']).problem, /^--duration: "0m" is not a duration: it must be longer than zero/);
      assert.match(refusal(['aws', 'group', 'Developers', '--wait', '--timeout', 'soon']).problem, /^--timeout: "soon" is not a duration/);
      for (const ok of ['90s', '15m', '2h', '1d']) assert.equal(parseRequestWords(['aws', 'group', 'D', '--duration', ok]).duration, ok);
    });

    it('names each kind of mistake', () => {
      assert.equal(refusal([]).problem, 'say what you need: a provider, a kind and a target, e.g. aws role AdminRole');
      assert.match(refusal(['aws']).problem, /^missing the kind of aws access and its target/);
      assert.equal(refusal(['aws', 'role']).problem, 'missing the target: which aws role?');
      assert.equal(
        refusal(['aws', 'role', 'AdminRole', '--reason', 'deploy', 'hotfix']).problem,
        'unexpected word "hotfix" after the target: put a reason with spaces in quotes, e.g. --reason "deploy hotfix"',
      );
      assert.equal(refusal(['aws', 'role', 'AdminRole', 'now', 'please']).problem, 'unexpected words "now" "please" after the target');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--colour', 'blue']).problem, 'unknown option --colour');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '-r', 'x']).problem, 'unknown option -r (options start with two dashes, e.g. --reason)');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--reason']).problem, '--reason needs a value, e.g. --reason "deploy hotfix"');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--reason', '--wait']).problem, '--reason needs a value, e.g. --reason "deploy hotfix"');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--reason=']).problem, '--reason needs a value, e.g. --reason "deploy hotfix"');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--wait=yes']).problem, '--wait takes no value');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--reason', 'a', '--reason', 'b']).problem, '--reason is given twice');
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--timeout', '5m']).problem, '--timeout only applies with --wait');
    });

    it('keeps CLI-only words out of Slack, in the same error style, with the Slack usage line', () => {
      for (const word of ['--wait', '--json', '--timeout=5m']) {
        const error = refusal(['aws', 'role', 'AdminRole', word], 'slack');
        assert.match(error.problem, new RegExp(`^${word.split('=')[0]} only works in the p0 CLI`));
        assert.ok(error.usage.startsWith('/p0 request <provider> <kind> <target> '));
        assert.ok(!error.usage.includes('--wait'));
      }
      // Everything else reads the same in both channels.
      const words = ['aws', 'role', 'AdminRole', '--reason', 'deploy', '--duration', '1h', '--account', 'prod', '--break-glass'];
      assert.deepEqual(parseRequestWords(words, { channel: 'slack' }), parseRequestWords(words, { channel: 'cli' }));
      assert.equal(refusal(['aws', 'role', 'AdminRole', '--duration', '2', 'hours'], 'slack').problem, refusal(['aws', 'role', 'AdminRole', '--duration', '2', 'hours']).problem);
    });

    it('has a usage line per channel listing the shared options', () => {
      assert.equal(
        requestUsage('cli'),
        'p0 request <provider> <kind> <target> [--reason TEXT] [--duration 2h] [--account NAME] [--start-at TIME] [--break-glass] [--wait] [--timeout 10m] [--json]',
      );
      assert.equal(requestUsage('slack'), '/p0 request <provider> <kind> <target> [--reason TEXT] [--duration 2h] [--account NAME] [--start-at TIME] [--break-glass]');
      assert.deepEqual(
        REQUEST_OPTIONS.filter((option) => !option.channels.includes('slack')).map((option) => option.name),
        ['--wait', '--timeout', '--json'],
      );
    });
  });

  describe('createRequestBody', () => {
    it('sends only what was given, never the CLI-only words', () => {
      assert.deepEqual(createRequestBody(parseRequestWords(['aws', 'group', 'Developers', '--wait', '--json'])), { provider: 'aws', kind: 'group', target: 'Developers' });
      assert.deepEqual(
        createRequestBody(parseRequestWords(['aws', 'role', 'AdminRole', '--reason', 'r', '--duration', '1h', '--account', 'prod', '--break-glass', '--start-at', '2026-05-04T09:00Z'])),
        { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'r', duration: '1h', resource: 'prod', breakGlass: true, startAt: '2026-05-04T09:00:00.000Z' },
      );
    });
  });

  describe('parseDurationWord', () => {
    it('gives seconds, or the same error style naming the option', () => {
      assert.equal(parseDurationWord('90s'), 90);
      assert.equal(parseDurationWord('2h'), 7200);
      assert.equal(parseDurationWord('1d'), 86400);
      assert.throws(() => parseDurationWord('2 hours', '--duration', 'p0 extend <id> --duration 1h'), {
        name: 'RequestGrammarError',
        message: '--duration: "2 hours" is not a duration: use a whole number and one unit, e.g. 90s, 15m, 2h or 1d\nusage: p0 extend <id> --duration 1h',
      });
      assert.throws(() => parseDurationWord('500ms'), RequestGrammarError, 'milliseconds are for config files, not requests');
    });
  });

  describe('tokenizeCommandLine', () => {
    it('splits on whitespace and keeps quoted text together', () => {
      assert.deepEqual(tokenizeCommandLine('request aws role AdminRole --reason "deploy hotfix" --duration 1h'), [
        'request', 'aws', 'role', 'AdminRole', '--reason', 'deploy hotfix', '--duration', '1h',
      ]);
      assert.deepEqual(tokenizeCommandLine("  a\t'b  c'   d\n"), ['a', 'b  c', 'd']);
      assert.deepEqual(tokenizeCommandLine(''), []);
      assert.deepEqual(tokenizeCommandLine('   '), []);
    });

    it('handles escapes, quotes inside words and empty quotes like a shell', () => {
      assert.deepEqual(tokenizeCommandLine('--reason="a b" x'), ['--reason=a b', 'x']);
      assert.deepEqual(tokenizeCommandLine('deploy\\ hotfix'), ['deploy hotfix']);
      assert.deepEqual(tokenizeCommandLine('"say \\"hi\\" \\\\ now"'), ['say "hi" \\ now']);
      assert.deepEqual(tokenizeCommandLine("'no \\escapes here'"), ['no \\escapes here']);
      assert.deepEqual(tokenizeCommandLine('"it\'s" \'a "b"\''), ["it's", 'a "b"']);
      assert.deepEqual(tokenizeCommandLine('a "" b'), ['a', '', 'b']);
      assert.deepEqual(tokenizeCommandLine('ab"cd"ef'), ['abcdef']);
    });

    it('reads the curly double quotes Slack types for you, and leaves apostrophes alone', () => {
      assert.deepEqual(tokenizeCommandLine('--reason \u201Cdeploy hotfix\u201D'), ['--reason', 'deploy hotfix']);
      assert.deepEqual(tokenizeCommandLine('--reason don\u2019t'), ['--reason', 'don\u2019t']);
    });

    it('refuses unterminated quotes and a trailing backslash', () => {
      assert.throws(() => tokenizeCommandLine('--reason "deploy hotfix'), (error: unknown) => {
        assert.ok(error instanceof RequestGrammarError);
        assert.match(error.problem, /^unterminated " quote/);
        assert.ok(error.message.endsWith(`usage: ${requestUsage('slack')}`));
        return true;
      });
      assert.throws(() => tokenizeCommandLine("--reason 'deploy"), /unterminated ' quote/);
      assert.throws(() => tokenizeCommandLine('abc\\'), /ends with a backslash/);
    });
  });

  describe('parseRequestCommandLine (the Slack entry point)', () => {
    it('parses the one-line command, with or without /p0', () => {
      const expected = parseRequestWords(['aws', 'role', 'AdminRole', '--reason', 'deploy hotfix', '--duration', '1h'], { channel: 'slack' });
      assert.deepEqual(parseRequestCommandLine('/p0 request aws role AdminRole --reason "deploy hotfix" --duration 1h'), expected);
      assert.deepEqual(parseRequestCommandLine('request aws role AdminRole --reason "deploy hotfix" --duration 1h'), expected);
    });

    it('gives the grammar\'s errors with the Slack usage line', () => {
      assert.throws(() => parseRequestCommandLine('request aws role AdminRole --wait'), (error: unknown) => {
        assert.ok(error instanceof RequestGrammarError);
        assert.equal(error.problem, '--wait only works in the p0 CLI: here p0 tells you when the access is ready');
        assert.equal(error.usage, requestUsage('slack'));
        return true;
      });
      assert.throws(() => parseRequestCommandLine('approve req_1'), /unknown command "approve": start with request/);
      assert.throws(() => parseRequestCommandLine('/p0'), /say what you need, e.g. request aws role AdminRole/);
      assert.throws(() => parseRequestCommandLine('request aws role "AdminRole'), /unterminated " quote/);
    });
  });
});
