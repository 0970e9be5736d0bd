// ESLint flat config for p0-jit, run through scripts/lint.sh from the repo root.
//
// It lives in its own package (tools/lint) because typescript-eslint needs the TypeScript JS API
// (typescript 6.0 here), while the project itself compiles with the native TypeScript 7 `tsc`,
// which ships no JS API. The type information therefore comes from TS 6 reading the root
// tsconfig.json; if a TS 7-only option ever lands there, this is the place that will complain.
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// Same list as tsconfig.json "include".
const sourceDirs = [
  'workflows',
  'activities',
  'worker',
  'api',
  'bots',
  'providers',
  'db',
  'service',
  'config',
  'scripts',
  'test',
  'cli',
  'bench',
  'shared',
];
const tsFiles = sourceDirs.map((dir) => `${dir}/**/*.{ts,mts,cts}`);

const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matches a relative import of one of the repo's top-level directories, e.g. `../db` or `../../db/store`. */
const topLevelDirs = (dirs) => `^(?:\\.\\./)+(?:${dirs.join('|')})(?:/.*)?$`;

/** Matches `node:*` and every bare built-in name (`fs`, `fs/promises`, `child_process`, ...). */
const nodeBuiltinRegex = `^(?:node:.*|(?:${builtinModules
  .filter((name) => !name.startsWith('_'))
  .map(escapeRegex)
  .join('|')})(?:/.*)?)$`;

// Workflow code is replayed and must be deterministic: no I/O, no clock or randomness of its own,
// nothing but @temporalio/workflow, the shared message definitions and activity *types*.
// (Idea from temporalio/samples-typescript .shared/.eslintrc.js; the bundler would also reject
// some of these, but only when the worker starts.)
const workflowImportBans = {
  paths: [
    {
      name: '@temporalio/client',
      allowTypeImports: true,
      message: 'Workflows talk to Temporal only through @temporalio/workflow.',
    },
    {
      name: '@temporalio/worker',
      allowTypeImports: true,
      message: 'Workflows talk to Temporal only through @temporalio/workflow.',
    },
    {
      name: '@temporalio/activity',
      allowTypeImports: true,
      message: 'Workflows talk to Temporal only through @temporalio/workflow.',
    },
  ],
  patterns: [
    {
      regex: nodeBuiltinRegex,
      allowTypeImports: true,
      message: 'Node built-ins are not deterministic and are not available in the workflow sandbox.',
    },
    {
      regex: topLevelDirs(['activities', 'providers', 'db', 'service', 'api', 'bots', 'worker', 'scripts']),
      allowTypeImports: true,
      message:
        'Workflows may import this only as a type (`import type`); call activities through proxyActivities.',
    },
  ],
};

// Providers know nothing of channels, workflows, the store, the request service or the config file
// (each takes its own settings; service/providerSettings.ts reads them out of the config).
const providerImportBans = {
  patterns: [
    {
      regex: topLevelDirs(['workflows', 'activities', 'db', 'service', 'api', 'bots', 'worker', 'config']),
      message: 'Providers must not depend on workflows, activities, the store, the service, the config or channels.',
    },
    {
      regex: '^@temporalio/(?:client|worker|workflow)$',
      message: 'Providers know nothing of workflows or workers; activities wrap them.',
    },
  ],
};

// A provider's catalog module (what its config entries may say) is what config/ reads of it: it
// imports nothing but types, so parsing the config never loads a cloud SDK. It replaces the
// providers wall for these files and is stricter than it.
const catalogImportBans = {
  patterns: [
    {
      regex: '.*',
      allowTypeImports: true,
      message: 'A catalog module imports nothing but types: config/ loads it, and whatever it loads would load with the config.',
    },
  ],
};

// The config is parsed by every process and by scripts: of a provider it reads only the catalog
// module (providers/<name>/catalog), never one that loads a cloud SDK, and it knows nothing of the
// code that reads it. Of service/ it uses only the leaf modules of the shared vocabulary.
const configImportBans = {
  patterns: [
    {
      regex: topLevelDirs(['workflows', 'activities', 'db', 'api', 'bots', 'worker', 'cli', 'scripts', 'test']),
      message: 'The config must not depend on the code that reads it.',
    },
    {
      regex: '^(?:\\.\\./)+providers(?:/(?![^/]+/catalog$).*)?$',
      message: "Of providers/, the config may import only a catalog module (providers/<name>/catalog): the others load a cloud SDK.",
    },
    {
      regex: '^(?:\\.\\./)+service(?:/(?!(?:duration|identity|requestGrammar)$).*)?$',
      message: 'Of service/, the config may import only the leaf modules duration, identity and requestGrammar.',
    },
    {
      regex: '^(?:@aws-sdk/.*|@google-cloud/.*|google-auth-library|@kubernetes/client-node|@temporalio/.*|knex|pg|better-sqlite3)$',
      message: 'Parsing the config loads no cloud SDK, Temporal or database client.',
    },
  ],
};

// Activities wire providers, the store and notifications together for the workflows. They are given
// their providers and stores (createActivities), are called by workflows and never call back into
// the request service, the worker or a channel.
const activityImportBans = {
  patterns: [
    {
      regex: topLevelDirs(['api', 'bots', 'worker', 'cli', 'scripts', 'test']),
      message: 'Activities must not depend on channels, the worker process or scripts.',
    },
    {
      regex: '^(?:\\.\\./)+workflows/(?!(?:messages|types)$).*$',
      allowTypeImports: true,
      message: 'Of workflows/, activities use the message definitions and types; workflow code only as a type.',
    },
    {
      regex: '^(?:\\.\\./)+providers/(?!provider$).*$',
      allowTypeImports: true,
      message: 'Activities are given their providers: of providers/, import the Provider interface (providers/provider), others only as types.',
    },
    {
      regex: topLevelDirs(['db', 'config']),
      allowTypeImports: true,
      message: 'Activities are given their stores and the live policy: import the store and the config only as types.',
    },
    {
      regex: '^(?:\\.\\./)+service/(?:requestService|reconcileService|runtime|temporal|livePolicy)$',
      message: 'Activities never start workflows, open a runtime or load the policy of their own: they are given what they need.',
    },
    {
      regex: '^@temporalio/(?:worker|workflow)$',
      allowTypeImports: true,
      message: 'Activities run in the worker, outside the workflow sandbox: use @temporalio/activity.',
    },
  ],
};

// The request service sits between the channels and Temporal, the store and the policy: the
// channels and the worker call it, so it never reaches back into them, and it runs no activity or
// workflow code.
const serviceImportBans = {
  patterns: [
    {
      regex: topLevelDirs(['api', 'bots', 'worker', 'cli', 'scripts', 'test']),
      message: 'service/ is called by the channels and the worker; it must not depend on them.',
    },
    {
      regex: topLevelDirs(['activities']),
      allowTypeImports: true,
      message: 'service/ runs no activity code (import types only).',
    },
    {
      regex: '^(?:\\.\\./)+workflows/(?!(?:messages|types)$).*$',
      allowTypeImports: true,
      message: 'Of workflows/, service/ uses the message definitions and types; workflow code only as a type.',
    },
    {
      regex: '^@temporalio/(?:worker|activity|workflow)$',
      allowTypeImports: true,
      message: 'service/ is a Temporal client: it runs no worker, activity or workflow code.',
    },
  ],
};

// Channels (api/, bots/) call the one request service; they never reach a provider, the database
// or the Temporal client on their own. api/server.ts is the composition root that builds the
// Temporal client and hands it to the service, so it alone may import @temporalio/client.
const channelImportBans = ({ allowTemporalClient }) => ({
  paths: allowTemporalClient
    ? []
    : [
        {
          name: '@temporalio/client',
          allowTypeImports: true,
          message: 'Channels reach Temporal through the request service (service/).',
        },
      ],
  patterns: [
    {
      regex: topLevelDirs(['db', 'providers', 'activities', 'worker']),
      allowTypeImports: true,
      message: 'Channels go through the request service (service/), not the store, providers or activities.',
    },
    {
      regex: '^@temporalio/(?:worker|activity)$',
      allowTypeImports: true,
      message: 'Channels never run workers or activities.',
    },
  ],
});

// Stores are leaves: nothing below them points back at channels, workflows or activities.
const dbImportBans = {
  patterns: [
    {
      regex: topLevelDirs(['workflows', 'activities', 'service', 'api', 'bots', 'worker', 'providers']),
      allowTypeImports: true,
      message: 'Stores must not depend on the code that uses them (import types only).',
    },
  ],
};

// The vocabulary every side speaks (statuses, event and failure types, error codes, durations, the
// request grammar, the API's shapes). Workflow code and the CLI import it, so it imports nothing of
// the product and no Node API: only its own files (and zod, should a shape ever need a schema).
const sharedImportBans = {
  patterns: [
    {
      regex: '^(?!\\./|zod$)',
      message: 'shared/ imports only its own files (and zod): nothing of the product, no Node API, no SDK.',
    },
  ],
};

// The CLI speaks only HTTP to the API; of the rest of the tree it imports only the shared
// vocabulary (shared/), nothing else (no store, provider, Temporal, or server module).
// cli/ is one flat folder: `../` leaves it, and the only way out it may take is `../shared/`.
const cliImportBans = {
  paths: [
    { name: 'express', message: 'The CLI is an HTTP client of the API, not a server.' },
    { name: 'knex', message: 'The CLI reaches data only through the API.' },
  ],
  patterns: [
    {
      regex: '^\\.\\./(?!shared/[^/]+$)',
      message: 'The CLI imports only the shared vocabulary (shared/) and talks to the API over HTTP (cli/api.ts).',
    },
    {
      regex: '^(?:@temporalio/.*|@aws-sdk/.*|better-sqlite3|pg)$',
      message: 'The CLI talks to the API over HTTP only, never to Temporal, AWS or a database.',
    },
  ],
};

// The web page (web/) runs in the browser and speaks only HTTP to the API, like the CLI: of the
// rest of the tree it imports only the shared vocabulary (shared/), and no Node API.
const webImportBans = {
  patterns: [
    {
      // Two levels up or more leaves web/ (web/src has one level of folders): `../api` is web/src/api.ts.
      regex: `^(?:\\.\\./){2,}(?:${['workflows', 'activities', 'worker', 'api', 'bots', 'providers', 'db', 'service', 'config', 'scripts', 'test', 'cli', 'bench'].join('|')})(?:/.*)?$`,
      message: 'The web page imports only the shared vocabulary (shared/) and talks to the API over HTTP (web/src/api.ts).',
    },
    {
      regex: nodeBuiltinRegex,
      message: 'The web page runs in the browser: no Node API.',
    },
  ],
};

const restrict = (options) => ({ '@typescript-eslint/no-restricted-imports': ['error', options] });

const configs = defineConfig(
  {
    name: 'p0-jit/ignores',
    ignores: ['**/node_modules/**', 'dist/**', 'web/dist/**', 'data/**', 'tools/**', '**/*.{js,cjs,mjs}'],
  },
  {
    name: 'p0-jit/typescript',
    // The web page's sources too: projectService reads them with web/tsconfig.json (DOM, JSX).
    files: [...tsFiles, 'web/src/**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: repoRoot,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Forgetting to await an activity, a workflow API or a database call is the bug we most want.
      '@typescript-eslint/no-floating-promises': 'error',
      // Express 5 awaits a handler's returned promise, so async handlers passed as arguments are fine.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    name: 'p0-jit/tests',
    files: ['test/**/*.{ts,mts,cts}'],
    rules: {
      // Mocha `this` and chai-style assertions are fine in tests.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  { name: 'p0-jit/walls/workflows', files: ['workflows/**/*.{ts,mts,cts}'], rules: restrict(workflowImportBans) },
  { name: 'p0-jit/walls/providers', files: ['providers/**/*.{ts,mts,cts}'], rules: restrict(providerImportBans) },
  { name: 'p0-jit/walls/provider-catalogs', files: ['providers/*/catalog.ts'], rules: restrict(catalogImportBans) },
  { name: 'p0-jit/walls/config', files: ['config/**/*.{ts,mts,cts}'], rules: restrict(configImportBans) },
  { name: 'p0-jit/walls/activities', files: ['activities/**/*.{ts,mts,cts}'], rules: restrict(activityImportBans) },
  { name: 'p0-jit/walls/service', files: ['service/**/*.{ts,mts,cts}'], rules: restrict(serviceImportBans) },
  {
    name: 'p0-jit/walls/channels',
    files: ['api/**/*.{ts,mts,cts}', 'bots/**/*.{ts,mts,cts}'],
    rules: restrict(channelImportBans({ allowTemporalClient: false })),
  },
  {
    name: 'p0-jit/walls/api-server',
    files: ['api/server.ts'],
    rules: restrict(channelImportBans({ allowTemporalClient: true })),
  },
  { name: 'p0-jit/walls/db', files: ['db/**/*.{ts,mts,cts}'], rules: restrict(dbImportBans) },
  { name: 'p0-jit/walls/cli', files: ['cli/**/*.{ts,mts,cts}'], rules: restrict(cliImportBans) },
  { name: 'p0-jit/walls/shared', files: ['shared/**/*.{ts,mts,cts}'], rules: restrict(sharedImportBans) },
  { name: 'p0-jit/walls/web', files: ['web/src/**/*.{ts,tsx}'], rules: restrict(webImportBans) },
);

// Patterns are relative to the repo root whatever the current directory (with `-c`, ESLint would
// otherwise resolve them against the cwd).
export default configs.map((config) => ({ ...config, basePath: repoRoot }));
