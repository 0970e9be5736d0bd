/** `p0 ls`: what the caller may request (the catalog), as a table or JSON. */
import type { Command } from 'commander';
import type { ResourceEntry } from './api';
import { examples, type CommandContext } from './commandContext';
import { formatTable, printJson } from './output';

export function addCatalogCommand(program: Command, { io, api }: CommandContext): void {
  program
    .command('ls')
    .description('List what you may request (the catalog)')
    .argument('[provider]', 'only this provider, e.g. aws')
    .argument('[kind]', 'only this kind, e.g. role')
    .option('--like <text>', 'only entries whose target, resource or description contains TEXT')
    .option('--json', 'print {"resources": [...]} as JSON')
    .addHelpText('after', examples(['p0 ls', 'p0 ls aws role', 'p0 ls --like admin', 'p0 ls aws --json']))
    .action(async (provider: string | undefined, kind: string | undefined, options: { like?: string; json?: boolean }) => {
      const like = options.like?.toLowerCase();
      const matches = (await api().resources()).filter(
        (entry) =>
          (!provider || entry.provider.toLowerCase() === provider.toLowerCase()) &&
          (!kind || entry.kind.toLowerCase() === kind.toLowerCase()) &&
          (!like || [entry.target, entry.resource, entry.level, entry.description].some((text) => typeof text === 'string' && text.toLowerCase().includes(like))),
      );
      if (options.json) return printJson(io.stdout, { resources: matches });
      if (matches.length === 0) {
        io.stderr.write('Nothing matches: p0 ls without filters shows everything you may request\n');
        return;
      }
      io.stdout.write(formatCatalog(matches));
    });
}

/**
 * The catalog as a table. Columns for fields the server may or may not send (resource, level,
 * presets, rules worth knowing before asking) appear only when some entry has them.
 */
function formatCatalog(entries: ResourceEntry[]): string {
  const presetsOf = (entry: ResourceEntry) => {
    const presets = entry.durationPresets ?? entry.presets;
    return Array.isArray(presets) ? presets.map(text).join(', ') : text(presets);
  };
  const notesOf = (entry: ResourceEntry) => {
    const notes: string[] = [];
    if (entry.requireReason === true) notes.push(typeof entry.reasonPatternDescription === 'string' ? `reason: ${entry.reasonPatternDescription}` : 'reason required');
    const breakGlass = entry.breakGlass as { maxDuration?: string } | undefined;
    if (breakGlass && typeof breakGlass === 'object') notes.push(`break-glass up to ${breakGlass.maxDuration ?? '?'}`);
    if (entry.readOnly === true) notes.push('read-only');
    return notes.join('; ');
  };
  const candidates: Array<[string, (entry: ResourceEntry) => string, 'always' | 'when-any']> = [
    ['PROVIDER', (entry) => entry.provider, 'always'],
    ['RESOURCE', (entry) => text(entry.resource), 'when-any'],
    ['LEVEL', (entry) => text(entry.level), 'when-any'],
    ['KIND', (entry) => entry.kind, 'always'],
    ['TARGET', (entry) => entry.target, 'always'],
    ['DEFAULT', (entry) => entry.defaultDuration, 'always'],
    ['RANGE', (entry) => `${entry.minDuration}-${entry.maxDuration}`, 'always'],
    ['PRESETS', presetsOf, 'when-any'],
    ['APPROVALS', (entry) => String(entry.approvalsRequired), 'always'],
    ['NOTES', notesOf, 'when-any'],
    ['DESCRIPTION', (entry) => text(entry.description), 'when-any'],
  ];
  const columns = candidates.filter(([, cell, when]) => when === 'always' || entries.some((entry) => cell(entry) !== ''));
  return formatTable(
    columns.map(([header]) => header),
    entries.map((entry) => columns.map(([, cell]) => cell(entry))),
  );
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string') return (value as { name: string }).name;
  return JSON.stringify(value);
}
