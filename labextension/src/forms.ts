/**
 * Small dialog forms (register, build, deploy, update): a body widget whose getValue() Lab's
 * Dialog returns when the user presses the main button.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { el } from './sidebar';

export interface IField {
  name: string;
  label: string;
  value?: string;
  placeholder?: string;
  choices?: string[];
  checkbox?: boolean;
  checked?: boolean;
  help?: string;
}

export type FormValues = Record<string, string | boolean>;

class Form extends Widget implements Dialog.IBodyWidget<FormValues> {
  constructor(private readonly fields: IField[]) {
    super();
    this.addClass('jp-mlops-Form');
    for (const f of fields) {
      const label = el('label', 'jp-mlops-field');
      label.append(el('span', 'jp-mlops-field-label', f.label));
      label.append(this._input(f));
      if (f.help) {
        label.append(el('span', 'jp-mlops-field-help', f.help));
      }
      this.node.append(label);
    }
  }

  getValue(): FormValues {
    const out: FormValues = {};
    for (const f of this.fields) {
      const input = this.node.querySelector(`[name="${f.name}"]`) as HTMLInputElement | HTMLSelectElement;
      out[f.name] = f.checkbox ? (input as HTMLInputElement).checked : input.value.trim();
    }
    return out;
  }

  private _input(f: IField): HTMLElement {
    if (f.choices) {
      const select = el('select', 'jp-mod-styled');
      select.name = f.name;
      for (const choice of f.choices) {
        const option = el('option', '', choice);
        option.value = choice;
        option.selected = choice === f.value;
        select.append(option);
      }
      return select;
    }
    const input = el('input', f.checkbox ? '' : 'jp-mod-styled');
    input.name = f.name;
    if (f.checkbox) {
      input.type = 'checkbox';
      input.checked = f.checked ?? false;
    } else {
      input.value = f.value ?? '';
      input.placeholder = f.placeholder ?? '';
    }
    return input;
  }
}

/** Show a form; resolves with its values, or null when cancelled. */
export async function askForm(title: string, fields: IField[], action: string): Promise<FormValues | null> {
  const result = await showDialog({
    title,
    body: new Form(fields),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: action })],
    focusNodeSelector: 'input, select'
  });
  return result.button.accept ? result.value : null;
}

/** "k=v, k2=v2" as the list of K=V the API takes. */
export function pairs(text: string | boolean): string[] {
  return String(text)
    .split(',')
    .map(s => s.trim())
    .filter(Boolean);
}
