/**
 * Live updates: the server-sent events of GET /v1/events put each changed request straight into
 * the query cache and mark the lists stale, so states change on screen without a reload. While the
 * stream is down (a proxy that drops it, a reconnect) the queries poll instead.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { RequestChangeMessage } from '../../shared/api';

/** How often the page polls while the event stream is down. */
export const POLL_INTERVAL_MS = 5_000;

const LiveContext = createContext(false);

/** The refetch interval for a query: none while the stream is up, POLL_INTERVAL_MS while it is down. */
export function useRefetchInterval(): number | false {
  return useContext(LiveContext) ? false : POLL_INTERVAL_MS;
}

export function LiveUpdates({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (typeof EventSource === 'undefined') return undefined;
    const source = new EventSource('/v1/events');
    // Opened or reopened: whatever happened while it was down is fetched afresh.
    source.onopen = () => {
      setLive(true);
      void queryClient.invalidateQueries();
    };
    source.onerror = () => setLive(source.readyState === EventSource.OPEN);
    source.addEventListener('request', (event) => applyChange(queryClient, JSON.parse((event as MessageEvent<string>).data) as RequestChangeMessage));
    source.addEventListener('reset', () => void queryClient.invalidateQueries());
    return () => source.close();
  }, [queryClient]);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

function applyChange(queryClient: QueryClient, change: RequestChangeMessage): void {
  const { request } = change;
  queryClient.setQueryData(['request', request.id], { request });
  void queryClient.invalidateQueries({ queryKey: ['requests'] });
  void queryClient.invalidateQueries({ queryKey: ['events', request.id] });
}
