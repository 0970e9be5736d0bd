#!/usr/bin/env node
// The `p0` command. Runs the TypeScript sources through tsx (a runtime dependency), so
// `npx p0 ...` and a global install work without a build step.
require('tsx/cjs');
require('../cli/main.ts');
