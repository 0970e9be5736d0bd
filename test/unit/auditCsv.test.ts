/** The audit CSV (api/audit.ts): one line per event, quoted as RFC 4180 says, and no formula a spreadsheet would run. */
import assert from 'node:assert/strict';
import { auditCsv } from '../../api/audit';
import type { AuditEvent } from '../../shared/events';
import type { RequestView } from '../../shared/request';

describe('the audit CSV export', () => {
  it('quotes commas, quotes and line breaks, and defuses what a spreadsheet would run as a formula', () => {
    const view = { id: 'req_1', requester: 'alice@example.com', provider: 'aws', resource: 'prod', level: 'admin', kind: 'role', target: 'AdminRole', status: 'denied', reason: '=HYPERLINK("http://evil.example","click")' } as RequestView;
    const events: AuditEvent[] = [
      { requestId: 'req_1', seq: 2, type: 'denied', actor: 'bob@example.com', at: '2026-05-01T10:00:00.000Z', details: { comment: 'no, "not now",\nsorry' } },
      { requestId: 'req_1', seq: 1, type: 'requested', actor: 'alice@example.com', at: '2026-05-01T09:00:00.000Z' },
    ];
    const lines = auditCsv([view], events).split('\r\n');
    assert.equal(lines[0], 'at,request,event,actor,requester,provider,resource,level,kind,target,status,reason,details');
    assert.equal(
      lines[1],
      `2026-05-01T10:00:00.000Z,req_1,denied,bob@example.com,alice@example.com,aws,prod,admin,role,AdminRole,denied,"'=HYPERLINK(""http://evil.example"",""click"")","{""comment"":""no, \\""not now\\"",\\nsorry""}"`,
    );
    assert.match(lines[2]!, /^2026-05-01T09:00:00\.000Z,req_1,requested,alice@example\.com,.*,"'=HYPERLINK/);
    assert.equal(lines[3], '', 'ends with a line break');
  });
});
