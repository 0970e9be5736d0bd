/**
 * The page's frame: the left sidebar (Access Management, Approvals with the count waiting for me,
 * Audit for admins, who is signed in, Sign out) and the pages. The paths are the server's
 * PAGE_PATHS (api/web.ts): any other path is not a page.
 */
import { useQuery } from '@tanstack/react-query';
import { NavLink, Route, Routes } from 'react-router';
import type { MeAnswer } from '../../shared/api';
import { get, loadSession } from './api';
import { LiveUpdates } from './live';
import { AccessManagementPage } from './pages/AccessManagement';
import { ApprovalsPage, useWaitingForMe } from './pages/Approvals';
import { AuditPage } from './pages/Audit';
import { LoadError, Loading } from './pages/common';
import { RequestPage } from './pages/RequestPage';
import { Toasts } from './toasts';

export function App() {
  const session = useQuery({ queryKey: ['session'], queryFn: loadSession, staleTime: Infinity });
  const me = useQuery({ queryKey: ['me'], queryFn: () => get<MeAnswer>('/v1/me'), enabled: session.isSuccess });
  if (session.isError || me.isError) {
    return (
      <main className="main">
        <LoadError error={session.error ?? me.error} what="who you are" />
      </main>
    );
  }
  if (!session.data || !me.data) {
    return (
      <main className="main">
        <Loading />
      </main>
    );
  }
  const user = me.data.user;
  return (
    <LiveUpdates>
      <div className="app">
        <Sidebar user={user} csrfToken={session.data.csrfToken} />
        <main className="main">
          <Routes>
            <Route path="/" element={<AccessManagementPage />} />
            <Route path="/approvals" element={<ApprovalsPage me={user} />} />
            <Route path="/audit" element={<AuditPage me={user} />} />
            <Route path="/requests/:id" element={<RequestPage me={user} />} />
            <Route path="*" element={<h1>Not a page</h1>} />
          </Routes>
        </main>
        <Toasts />
      </div>
    </LiveUpdates>
  );
}

function Sidebar({ user, csrfToken }: { user: MeAnswer['user']; csrfToken: string }) {
  const waiting = useWaitingForMe();
  const count = waiting.data?.requests.length ?? 0;
  return (
    <nav className="sidebar" aria-label="Main">
      <p className="brand">p0</p>
      <ul className="nav-links">
        <li>
          <NavLink to="/" end>
            Access Management
          </NavLink>
        </li>
        <li>
          <NavLink to="/approvals">
            Approvals{' '}
            <span className={`count${count > 0 ? ' count-some' : ''}`} aria-hidden="true">
              {count}
            </span>
            <span className="visually-hidden">{count} waiting for me</span>
          </NavLink>
        </li>
        {user.admin ? (
          <li>
            <NavLink to="/audit">Audit</NavLink>
          </li>
        ) : null}
      </ul>
      <div className="who">
        <p>
          Signed in as <strong>{user.email}</strong>
          {user.admin ? ' (admin)' : ''}
        </p>
        <form method="post" action="/auth/logout">
          <input type="hidden" name="csrf" value={csrfToken} />
          <button type="submit" className="button button-secondary">
            Sign out
          </button>
        </form>
      </div>
    </nav>
  );
}
