/** The end of a dialog's form: the refusal that belongs to no field, then the close and submit buttons. */
import { Button } from 'react-aria-components';

export function DialogFooter(props: { alert?: string; closeLabel: string; submitLabel: string; danger?: boolean }) {
  return (
    <>
      {props.alert ? (
        <p role="alert" className="form-alert">
          {props.alert}
        </p>
      ) : null}
      <div className="dialog-buttons">
        <Button slot="close" className="button button-secondary">
          {props.closeLabel}
        </Button>
        <Button type="submit" className={`button ${props.danger ? 'button-danger' : 'button-primary'}`}>
          {props.submitLabel}
        </Button>
      </div>
    </>
  );
}
