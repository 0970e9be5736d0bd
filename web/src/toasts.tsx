/** Short notes after an action ("Request submitted"), as react-aria's toasts: announced, dismissable, focusable with F6. */
import {
  Button,
  Text,
  UNSTABLE_Toast as Toast,
  UNSTABLE_ToastContent as ToastContent,
  UNSTABLE_ToastQueue as ToastQueue,
  UNSTABLE_ToastRegion as ToastRegion,
} from 'react-aria-components';

interface Note {
  title: string;
  description?: string;
  tone: 'success' | 'error';
}

const queue = new ToastQueue<Note>({ maxVisibleToasts: 3 });

export function notify(title: string, description?: string): void {
  queue.add({ title, description, tone: 'success' }, { timeout: 6_000 });
}

export function notifyError(title: string, description?: string): void {
  // Errors stay until dismissed: the person must be able to read them.
  queue.add({ title, description, tone: 'error' });
}

export function Toasts() {
  return (
    <ToastRegion queue={queue} className="toasts">
      {({ toast }) => (
        <Toast toast={toast} className={`toast toast-${toast.content.tone}`}>
          <ToastContent>
            <Text slot="title">{toast.content.title}</Text>
            {toast.content.description ? <Text slot="description">{toast.content.description}</Text> : null}
          </ToastContent>
          <Button slot="close" aria-label="Dismiss" className="toast-close">
            ×
          </Button>
        </Toast>
      )}
    </ToastRegion>
  );
}
