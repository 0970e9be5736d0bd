/**
 * `GET /v1/events`: a server-sent events stream of the changes to the requests the caller can see
 * (service/requestFeed.ts), so the web page shows a request turn active or end without a reload.
 *
 * Each change is `event: request`, `id: <change id>`, `data: {"type": <audit event>, "request": <Request>}`;
 * `event: reset` says too much was missed to replay (refetch everything). A reconnecting client
 * sends `Last-Event-ID` and hears what it missed. A stream ends after MAX_STREAM_MS: the browser's
 * EventSource reconnects on its own, so a session or token that ended meanwhile is refused then.
 */
import express from 'express';
import { AppError } from '../service/errors';
import type { Caller } from '../service/policy';
import type { RequestFeed } from '../service/requestFeed';

/** Open streams one person may hold on one API process (a tab each). */
export const MAX_STREAMS_PER_PERSON = 10;
/** A stream is ended after this long; the client reconnects and is authenticated afresh. */
const MAX_STREAM_MS = 5 * 60_000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** How long a client waits before reconnecting (the `retry:` field). */
const RECONNECT_MS = 2_000;

export function createEventsRouter({ feed }: { feed: RequestFeed }): express.Router {
  const router = express.Router();
  router.get('/v1/events', (req, res) => {
    const caller = res.locals.caller as Caller;
    if (feed.countFor(caller.email) >= MAX_STREAMS_PER_PERSON) {
      throw new AppError('rate_limited', `Too many open event streams: at most ${MAX_STREAMS_PER_PERSON} per person. Close a tab and try again`);
    }
    const lastEventId = /^[0-9]{1,15}$/.exec(req.get('last-event-id') ?? '')?.[0];
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    // nginx and similar proxies would otherwise hold events back in their buffers.
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    res.write(`retry: ${RECONNECT_MS}\n: connected\n\n`);

    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      clearTimeout(maxAge);
      unsubscribe();
      res.end();
    };
    const unsubscribe = feed.subscribe(
      {
        caller,
        onChange: (change) => res.write(`id: ${change.id}\nevent: request\ndata: ${JSON.stringify({ type: change.type, request: change.request })}\n\n`),
        onReset: () => res.write('event: reset\ndata: {}\n\n'),
        onEnd: end,
      },
      lastEventId === undefined ? undefined : Number(lastEventId),
    );
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const maxAge = setTimeout(end, MAX_STREAM_MS);
    req.once('close', end);
  });
  return router;
}
