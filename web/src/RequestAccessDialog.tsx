/**
 * The Request Access modal: Resource type, Resource and Access level (each offering only what the
 * catalog and the policy let this person request), Reason (with the level's rule), Duration (its
 * presets and bounds), break-glass and a scheduled start where the level allows them, then Submit.
 * The request service decides; its refusal appears on the field it concerns.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Checkbox, Dialog, Form, Heading, Modal, ModalOverlay, Text } from 'react-aria-components';
import type { RequestAnswer } from '../../shared/api';
import type { CatalogEntry } from '../../shared/catalog';
import {
  approvalsWording,
  chosenEntry,
  durationChoices,
  humanDuration,
  levelsOf,
  normalizeForm,
  providerLabel,
  providersOf,
  reasonRule,
  refusalField,
  resourcesOf,
  type RequestForm,
} from '../../shared/requestForm';
import { ApiError, post } from './api';
import { DialogFooter } from './DialogFooter';
import { SelectField, TextInputField } from './fields';
import { accessTitle, listWords } from './format';
import { notify } from './toasts';

/** Codes whose message is about what was asked (and may name a field); others are shown above the buttons. */
const FIELD_CODES = new Set(['bad_request', 'not_found', 'conflict']);

export function RequestAccessDialog(props: {
  catalog: readonly CatalogEntry[];
  isOpen: boolean;
  onOpenChange: (isOpen: boolean) => void;
  /** Pre-filled choices (a link such as /?request=aws/staging/developers) and errors to show at once. */
  prefill?: RequestForm;
  initialErrors?: Record<string, string>;
}) {
  return (
    <ModalOverlay isDismissable isOpen={props.isOpen} onOpenChange={props.onOpenChange} className="modal-overlay">
      <Modal className="modal modal-wide">
        <Dialog className="dialog">
          <Heading slot="title">Request Access</Heading>
          <RequestAccessForm catalog={props.catalog} prefill={props.prefill} initialErrors={props.initialErrors} onDone={() => props.onOpenChange(false)} />
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

function RequestAccessForm(props: { catalog: readonly CatalogEntry[]; prefill?: RequestForm; initialErrors?: Record<string, string>; onDone: () => void }) {
  const { catalog } = props;
  const [form, setForm] = useState<RequestForm>(() => normalizeForm(catalog, props.prefill ?? {}));
  const [startAt, setStartAt] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>(props.initialErrors ?? {});
  const [alert, setAlert] = useState<string>();
  const queryClient = useQueryClient();
  const entry = chosenEntry(catalog, form);
  const duration = entry && form.duration !== undefined && durationChoices(entry).includes(form.duration) ? form.duration : entry?.defaultDuration;

  /** A change to one field: later choices that no longer fit are dropped, and the field's error goes. */
  const change = (field: string, next: RequestForm) => {
    setForm(normalizeForm(catalog, next));
    setErrors(({ [field]: _gone, ...rest }) => rest);
    setAlert(undefined);
  };

  const submit = useMutation({
    mutationFn: () =>
      post<RequestAnswer>('/v1/requests', {
        provider: form.provider,
        resource: form.resource,
        level: form.level,
        reason: form.reason ?? '',
        ...(duration ? { duration } : {}),
        ...(form.breakGlass && entry?.breakGlass ? { breakGlass: true } : {}),
        ...(startAt ? { startAt: new Date(startAt).toISOString() } : {}),
      }),
    onSuccess: ({ request }) => {
      queryClient.setQueryData(['request', request.id], { request });
      void queryClient.invalidateQueries({ queryKey: ['requests'] });
      const next = request.status === 'pending' ? 'pending approval' : request.breakGlass ? 'break-glass: granted now, reviewed afterwards' : 'approved by policy';
      notify('Request submitted', `${accessTitle(request)}: ${next}`);
      props.onDone();
    },
    onError: (error) => {
      if (error instanceof ApiError && FIELD_CODES.has(error.code)) {
        const { field, text } = refusalField(form, error.message);
        setErrors({ [field]: text });
      } else {
        setAlert(error instanceof Error ? error.message : String(error));
      }
    },
  });

  if (catalog.length === 0) {
    return (
      <>
        <p>Your organization&apos;s access policy offers you nothing to request yet. Contact your p0 administrator.</p>
        <div className="dialog-buttons">
          <Button slot="close" className="button button-secondary">
            Close
          </Button>
        </div>
      </>
    );
  }

  const providers = providersOf(catalog);
  const resources = resourcesOf(catalog, form.provider);
  const levels = levelsOf(catalog, form.provider, form.resource);
  const resourceDescription = (resource: string) => catalog.find((candidate) => candidate.provider === form.provider && candidate.resource === resource)?.resourceDescription;

  return (
    <Form
      validationErrors={errors}
      className="request-form"
      onSubmit={(event) => {
        event.preventDefault();
        // Sent once; the button stays focusable meanwhile (a disabled one would drop the focus).
        if (submit.isPending) return;
        setAlert(undefined);
        submit.mutate();
      }}
    >
      <SelectField
        name="provider"
        label="Resource type"
        autoFocus
        isRequired
        value={form.provider}
        onChange={(provider) => change('provider', { ...form, provider, resource: undefined, level: undefined })}
        choices={providers.map((provider) => ({ id: provider, label: providerLabel(provider) }))}
        placeholder="AWS, Google Cloud, Kubernetes…"
      />
      <SelectField
        name="resource"
        label="Resource"
        isRequired
        isDisabled={form.provider === undefined}
        value={form.resource}
        onChange={(resource) => change('resource', { ...form, resource, level: undefined })}
        choices={resources.map((resource) => ({ id: resource, label: resource, description: resourceDescription(resource) }))}
        placeholder="Which account, project or cluster"
      />
      <SelectField
        name="level"
        label="Access level"
        isRequired
        isDisabled={form.resource === undefined}
        value={form.level}
        onChange={(level) => change('level', { ...form, level })}
        choices={levels.map((level) => ({ id: level.level, label: level.level, description: level.description ?? `${level.kind} ${level.target}` }))}
        placeholder="What you need"
        description={entry ? levelSummary(entry) : undefined}
      />
      <TextInputField
        name="reason"
        label="Reason"
        multiline
        isRequired={entry?.requireReason}
        value={form.reason ?? ''}
        onChange={(reason) => change('reason', { ...form, reason })}
        description={reasonRule(entry)}
        placeholder="Why you need it, e.g. deploy hotfix INC-42"
      />
      {entry ? (
        <SelectField
          name="duration"
          label="Duration"
          isRequired
          value={duration}
          onChange={(next) => change('duration', { ...form, duration: next })}
          choices={durationChoices(entry).map((choice) => ({ id: choice, label: humanDuration(choice) }))}
          description={durationRule(entry)}
        />
      ) : null}
      {entry?.breakGlass ? (
        <Checkbox
          name="breakGlass"
          className="checkbox"
          isSelected={form.breakGlass === true}
          onChange={(breakGlass) => change('breakGlass', { ...form, breakGlass })}
          aria-describedby="break-glass-rule"
        >
          <span className="checkbox-box" aria-hidden="true" />
          Break-glass: emergency access now, without approval
        </Checkbox>
      ) : null}
      {entry?.breakGlass ? (
        <Text id="break-glass-rule" className="field-description">
          At most {humanDuration(entry.breakGlass.maxDuration)}; a reason is required and approvers review it afterwards.
          {errors.breakGlass ? <span className="field-error"> {errors.breakGlass}</span> : null}
        </Text>
      ) : null}
      {entry ? (
        <TextInputField
          name="startAt"
          label="Start at (optional)"
          type="datetime-local"
          value={startAt}
          onChange={(value) => {
            setStartAt(value);
            setErrors(({ startAt: _gone, ...rest }) => rest);
          }}
          description="Leave empty to start as soon as it is approved; at most 30 days ahead."
        />
      ) : null}
      <DialogFooter alert={alert} closeLabel="Cancel" submitLabel="Submit" />
    </Form>
  );
}

/** "group Developers · one approval · read-only". */
function levelSummary(entry: CatalogEntry): string {
  const parts = [`${entry.kind} ${entry.target}`, approvalsWording(entry.approvalsRequired)];
  if (entry.readOnly) parts.push('read-only');
  return parts.join(' · ');
}

/** "Between 1 minute and 1 day. Extendable, up to 1 day in all." */
function durationRule(entry: CatalogEntry): string {
  const extension = entry.allowExtension ? `Extendable, up to ${humanDuration(entry.maxLifetime)} in all.` : 'Cannot be extended.';
  return `${listWords([`Between ${humanDuration(entry.minDuration)}`, humanDuration(entry.maxDuration)], 'and')}. ${extension}`;
}
