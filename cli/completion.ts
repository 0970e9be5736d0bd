/**
 * `p0 completion bash|zsh`: a completion script built from the commands themselves (so it never
 * drifts from them), which asks `p0 __complete` for live values: providers, kinds and targets from
 * the catalog, request ids from the API.
 */
import type { Command } from 'commander';
import { REQUEST_OPTIONS, SHELL_SAFE_NAME } from '../shared/requestGrammar';
import type { ApiClient } from './api';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** Request-id arguments complete from the requests the command can act on. */
const ID_SOURCES: Record<string, { mine?: boolean; pendingApproval?: boolean; status?: string }> = {
  status: {},
  approve: { pendingApproval: true },
  deny: { pendingApproval: true },
  cancel: { mine: true, status: 'pending' },
  relinquish: { mine: true, status: 'active' },
  extend: { mine: true, status: 'active' },
  revoke: { status: 'active' },
  review: {},
};

const DURATION_SUGGESTIONS = ['15m', '30m', '1h', '2h', '4h', '8h', '1d'];

export function completionScript(shell: Shell, program: Command): string {
  const help = program.createHelp();
  const commands = help.visibleCommands(program);
  // Subcommands (`p0 reconcile events`) complete as commands of their own, named by both words.
  const nested = commands.flatMap((command) =>
    help
      .visibleCommands(command)
      .filter((sub) => sub.name() !== 'help')
      .map((sub) => ({ name: `${command.name()} ${sub.name()}`, command: sub })),
  );
  const cases = [...commands.map((command) => ({ name: command.name(), command })), ...nested]
    .map(({ name, command }) => {
      const options =
        name === 'request'
          ? REQUEST_OPTIONS.filter((option) => option.channels.includes('cli')).map((option) => option.name)
          : command.options.map((option) => option.long).filter((long): long is string => Boolean(long));
      return `    "${name}") p0_options=(${[...options, '--help'].join(' ')}) ;;`;
    })
    .join('\n');
  const nestedCases = nested.map(({ name }) => `    "${name}") command="${name}"; first=3 ;;`).join('\n');
  // Candidates reach COMPREPLY one line each, compared as plain text: never through compgen -W or an
  // unquoted $(...), which would expand a name such as $(touch /tmp/x) from the API and run it.
  const bash = `_p0_reply() {
  local cur="$1" candidate
  COMPREPLY=()
  while IFS= read -r candidate; do
    [[ "$candidate" == "$cur"* ]] && COMPREPLY+=("$candidate")
  done
}
_p0_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local command="\${COMP_WORDS[1]}"
  local first=2
  if [ "$COMP_CWORD" -eq 1 ]; then
    _p0_reply "$cur" < <(printf '%s\\n' ${commands.map((command) => command.name()).join(' ')} --help --version)
    return
  fi
  if [ "$COMP_CWORD" -gt 2 ]; then
    case "$command \${COMP_WORDS[2]}" in
${nestedCases}
    esac
  fi
  local -a p0_options=()
  case "$command" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    _p0_reply "$cur" < <(printf '%s\\n' "\${p0_options[@]}")
    return
  fi
  _p0_reply "$cur" < <(p0 __complete "$command" "\${COMP_WORDS[@]:first:COMP_CWORD-first}" 2>/dev/null)
}
complete -F _p0_complete p0
`;
  if (shell === 'bash') {
    return `# p0 completion for bash. Load it with:  source <(p0 completion bash)
# or install it:  p0 completion bash > ~/.local/share/bash-completion/completions/p0
${bash}`;
  }
  return `#compdef p0
# p0 completion for zsh (through zsh's bash completion layer). Load it with:  source <(p0 completion zsh)
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }
autoload -U +X bashcompinit && bashcompinit
${bash}`;
}

/**
 * Candidates for the next word of `p0 <command> <words...>`; empty when there is nothing to offer.
 * Names from the API that a shell would interpret are never offered (the config refuses them too).
 */
export async function completeWords(api: () => ApiClient, command: string, words: string[]): Promise<string[]> {
  return (await candidatesFor(api, command, words)).filter((candidate) => SHELL_SAFE_NAME.test(candidate));
}

async function candidatesFor(api: () => ApiClient, command: string, words: string[]): Promise<string[]> {
  if (command === 'completion') return words.length === 0 ? [...SHELLS] : [];
  // `p0 reconcile` takes only options, or the word `events`.
  if (command === 'reconcile') return words.some((word) => !word.startsWith('-')) ? [] : ['events'];
  if (command === 'request' || command === 'ls') {
    const { positionals, pendingOption } = splitRequestWords(command === 'request' ? words : words.filter((word) => !word.startsWith('-')));
    if (pendingOption === '--duration' || pendingOption === '--timeout') return DURATION_SUGGESTIONS;
    const catalog = await api().resources();
    if (pendingOption === '--account' || pendingOption === '--resource') {
      return unique(catalog.map((entry) => entry.resource).filter((name): name is string => typeof name === 'string'));
    }
    if (pendingOption) return [];
    const [provider, kind] = positionals;
    if (positionals.length === 0) return unique(catalog.map((entry) => entry.provider));
    if (positionals.length === 1) return unique(catalog.filter((entry) => entry.provider === provider).map((entry) => entry.kind));
    if (positionals.length === 2 && command === 'request') {
      return unique(catalog.filter((entry) => entry.provider === provider && entry.kind === kind).map((entry) => entry.target));
    }
    return [];
  }
  const source = ID_SOURCES[command];
  if (source && words.filter((word) => !word.startsWith('-')).length === 0) {
    return (await api().listRequests(source)).map((view) => view.id);
  }
  return [];
}

/** The positional words typed so far, and the option whose value is being typed, if any. */
function splitRequestWords(words: string[]): { positionals: string[]; pendingOption?: string } {
  const positionals: string[] = [];
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index]!;
    if (!word.startsWith('--')) {
      positionals.push(word);
      continue;
    }
    const option = REQUEST_OPTIONS.find((candidate) => candidate.name === word);
    if (option?.value) {
      if (index + 1 >= words.length) return { positionals, pendingOption: word };
      index += 1;
    }
  }
  return { positionals };
}

function unique(values: string[]): string[] {
  return [...new Set(values)].sort();
}
