/** What every page shows while loading, or when a load failed. */
import { ApiError } from '../api';

export function Loading() {
  return (
    <p className="muted" role="status">
      Loading…
    </p>
  );
}

export function LoadError({ error, what }: { error: unknown; what: string }) {
  const message = error instanceof ApiError ? error.message : String(error);
  return (
    <p role="alert" className="form-alert">
      Could not load {what}: {message}
    </p>
  );
}
