# Shared by the scripts/ensure-*.sh installers. Source it; it defines TOOL_CACHE (same rule as toolCache.ts).
TOOL_CACHE="${P0_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/p0-jit}"
mkdir -p "$TOOL_CACHE"
log() { echo "[p0-jit setup] $*" >&2; }
