#!/usr/bin/env bash
# Lint the repo with the isolated toolchain in tools/lint (ESLint + typescript-eslint on TypeScript 6;
# the project itself builds with TypeScript 7, which has no JS API for typescript-eslint).
# Usage: scripts/lint.sh [eslint args...]   e.g. --fix, --format json, workflows/accessRequest.ts
# With no file or directory among the args, the whole repo is linted. Paths are relative to
# the caller's directory. Exit status is ESLint's.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lint_dir="$repo_root/tools/lint"
stamp="$lint_dir/node_modules/.p0-lint-installed"

# Reinstall only when the lockfile or manifest changed since the last install: compared by content,
# not by modification time, which a fresh checkout or a git worktree sets to "now" for no change.
wanted="$(cat "$lint_dir/package-lock.json" "$lint_dir/package.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
  echo "[p0-jit lint] installing lint toolchain (tools/lint)" >&2
  npm ci --prefix "$lint_dir" --no-audit --no-fund >&2
  echo "$wanted" > "$stamp"
fi

# File and directory arguments are made absolute, so they mean what they meant in the caller's
# directory; ESLint then runs from the repo root (with -c, it ignores files outside its cwd).
args=()
has_target=false
for arg in "$@"; do
  if [[ "$arg" != -* && -e "$arg" ]]; then
    has_target=true
    arg="$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"
  fi
  args+=("$arg")
done
if [[ "$has_target" == false ]]; then
  args+=(.)
fi
cd "$repo_root"

# The web page has its own compiler settings (DOM, JSX; web/tsconfig.json), outside the root
# tsconfig.json: the whole-repo lint type-checks it too.
if [[ "$has_target" == false ]]; then
  "$repo_root/node_modules/.bin/tsc" --noEmit -p web
fi

# No --cache: ESLint's cache keys on each file's own contents, but the type-aware rules
# (no-floating-promises, no-unsafe-*) depend on the files it imports, so cached results go stale.
exec "$lint_dir/node_modules/.bin/eslint" -c "$lint_dir/eslint.config.mjs" "${args[@]}"
