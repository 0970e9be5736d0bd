/** The form fields the pages share, on react-aria-components: label, description and error wired for assistive technology. */
import type { ReactNode } from 'react';
import {
  Button,
  FieldError,
  Input,
  Label,
  ListBox,
  ListBoxItem,
  Popover,
  Select,
  SelectValue,
  Text,
  TextArea,
  TextField,
  type Key,
} from 'react-aria-components';

export interface Choice {
  id: string;
  label: string;
  description?: string;
}

export function SelectField(props: {
  name: string;
  label: string;
  choices: readonly Choice[];
  value: string | undefined;
  onChange: (value: string | undefined) => void;
  description?: ReactNode;
  placeholder?: string;
  isRequired?: boolean;
  isDisabled?: boolean;
  autoFocus?: boolean;
}) {
  return (
    <Select
      className="field"
      name={props.name}
      value={props.value ?? null}
      onChange={(key: Key | null) => props.onChange(key === null ? undefined : String(key))}
      placeholder={props.placeholder ?? 'Choose…'}
      isRequired={props.isRequired}
      isDisabled={props.isDisabled}
      autoFocus={props.autoFocus}
    >
      <Label>{props.label}</Label>
      <Button className="select-button">
        <SelectValue className="select-value" />
        <span aria-hidden="true" className="select-arrow">
          ▾
        </span>
      </Button>
      <FieldHelp description={props.description} />
      <Popover className="popover">
        <ListBox className="listbox" items={props.choices}>
          {(choice) => (
            <ListBoxItem id={choice.id} textValue={choice.label} className="option">
              <Text slot="label" className="option-label">
                {choice.label}
              </Text>
              {choice.description ? (
                <Text slot="description" className="option-description">
                  {choice.description}
                </Text>
              ) : null}
            </ListBoxItem>
          )}
        </ListBox>
      </Popover>
    </Select>
  );
}

export function TextInputField(props: {
  name: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  description?: ReactNode;
  isRequired?: boolean;
  multiline?: boolean;
  type?: 'text' | 'email' | 'date' | 'datetime-local';
  placeholder?: string;
  autoFocus?: boolean;
}) {
  return (
    <TextField className="field" name={props.name} value={props.value} onChange={props.onChange} isRequired={props.isRequired} type={props.type} autoFocus={props.autoFocus}>
      <Label>{props.label}</Label>
      {props.multiline ? <TextArea className="input" rows={3} placeholder={props.placeholder} /> : <Input className="input" placeholder={props.placeholder} />}
      <FieldHelp description={props.description} />
    </TextField>
  );
}

/** A field's description and its error (the validation's, or the server's through the Form), each tied to the field. */
function FieldHelp({ description }: { description?: ReactNode }) {
  return (
    <>
      {description ? (
        <Text slot="description" className="field-description">
          {description}
        </Text>
      ) : null}
      <FieldError className="field-error" />
    </>
  );
}
