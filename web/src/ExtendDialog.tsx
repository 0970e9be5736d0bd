/** Extend: more time on active access, within the level's bounds and its maximum lifetime. */
import { useState } from 'react';
import type { CatalogEntry } from '../../shared/catalog';
import type { RequestView } from '../../shared/request';
import { durationChoices, humanDuration } from '../../shared/requestForm';
import { ActionDialog } from './ActionDialog';
import { SelectField } from './fields';
import { accessTitle } from './format';

export function ExtendDialog({ view, entry }: { view: RequestView; entry: CatalogEntry }) {
  const [duration, setDuration] = useState(entry.defaultDuration);
  return (
    <ActionDialog
      label="Extend"
      title="Extend access"
      message={`More time on ${accessTitle(view)}, approved like a request (or at once by a policy rule). In all it may last at most ${humanDuration(entry.maxLifetime)}.`}
      action="extend"
      request={view}
      commentLabel="Why (optional)"
      extraBody={{ duration }}
      extraFields={
        <SelectField
          name="duration"
          label="Duration"
          autoFocus
          isRequired
          value={duration}
          onChange={(next) => setDuration(next ?? entry.defaultDuration)}
          choices={durationChoices(entry).map((choice) => ({ id: choice, label: humanDuration(choice) }))}
        />
      }
      done={(extended) => (extended.pendingExtension ? 'Extension requested: waiting for approval' : 'Access extended')}
    />
  );
}
