/**
 * A modal that confirms an action on a request and takes its comment: Deny (a reason is required),
 * Relinquish, Revoke, Extend (with a duration). The API's answer decides: its refusal is shown in
 * the dialog, on the field it names.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Button, Dialog, DialogTrigger, Form, Heading, Modal, ModalOverlay } from 'react-aria-components';
import type { RequestAnswer } from '../../shared/api';
import type { RequestView } from '../../shared/request';
import { ApiError, post } from './api';
import { DialogFooter } from './DialogFooter';
import { TextInputField } from './fields';
import { accessTitle } from './format';
import { notify } from './toasts';

export interface ActionDialogProps {
  /** The button that opens the dialog, and the dialog's confirm button. */
  label: string;
  title: string;
  message: ReactNode;
  /** POST /v1/requests/{id}/<action>. */
  action: 'deny' | 'relinquish' | 'revoke' | 'extend' | 'cancel';
  request: RequestView;
  commentLabel: string;
  commentRequired?: boolean;
  /** More of the body (e.g. `subject`, `duration`), and fields that set it. */
  extraBody?: Record<string, unknown>;
  extraFields?: ReactNode;
  /** What the toast says afterwards. */
  done: (view: RequestView) => string;
  variant?: 'danger' | 'primary';
}

export function ActionDialog(props: ActionDialogProps) {
  const [open, setOpen] = useState(false);
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [alert, setAlert] = useState<string>();
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: () =>
      post<RequestAnswer>(`/v1/requests/${props.request.id}/${props.action}`, {
        ...(comment.trim() ? { comment: comment.trim() } : {}),
        ...props.extraBody,
      }),
    onSuccess: ({ request }) => {
      queryClient.setQueryData(['request', request.id], { request });
      void queryClient.invalidateQueries({ queryKey: ['requests'] });
      void queryClient.invalidateQueries({ queryKey: ['events', request.id] });
      notify(props.done(request));
      setOpen(false);
      setComment('');
    },
    onError: (error) => {
      const message = error instanceof ApiError ? error.message : String(error);
      const field = /^(duration|comment): /.exec(message);
      if (field) setErrors({ [field[1]!]: message.slice(field[0].length) });
      else setAlert(message);
    },
  });

  return (
    <DialogTrigger
      isOpen={open}
      onOpenChange={(isOpen) => {
        setOpen(isOpen);
        setErrors({});
        setAlert(undefined);
      }}
    >
      <Button className={`button ${props.variant === 'danger' ? 'button-danger' : 'button-secondary'}`}>{props.label}</Button>
      <ModalOverlay isDismissable className="modal-overlay">
        <Modal className="modal">
          <Dialog className="dialog">
            <Heading slot="title">{props.title}</Heading>
            <div className="dialog-message">{props.message}</div>
            <Form
              validationErrors={errors}
              onSubmit={(event) => {
                event.preventDefault();
                // Sent once; the button stays focusable meanwhile (a disabled one would drop the focus).
                if (mutation.isPending) return;
                setAlert(undefined);
                mutation.mutate();
              }}
            >
              {props.extraFields}
              <TextInputField
                name="comment"
                label={props.commentLabel}
                value={comment}
                onChange={(value) => {
                  setComment(value);
                  setErrors({});
                }}
                isRequired={props.commentRequired}
                multiline
                autoFocus={!props.extraFields}
              />
              <DialogFooter alert={alert} closeLabel="Back" submitLabel={props.label} danger={props.variant === 'danger'} />
            </Form>
          </Dialog>
        </Modal>
      </ModalOverlay>
    </DialogTrigger>
  );
}

/** Relinquish: the requester ends active access now; the answer comes once the removal is confirmed. */
export function RelinquishDialog({ view }: { view: RequestView }) {
  return (
    <ActionDialog
      label="Relinquish"
      title="Relinquish access"
      message={`End your access to ${accessTitle(view)} now. p0 removes it and confirms it is gone.`}
      action="relinquish"
      request={view}
      commentLabel="Comment (optional)"
      variant="danger"
      done={(ended) => (ended.status === 'relinquished' ? 'Access relinquished: removal confirmed' : 'Relinquishing: removing the access')}
    />
  );
}
