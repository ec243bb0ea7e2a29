/** The Python a notebook runs to score a deployment, with an example input shaped like the model's. */
import { NotebookActions, INotebookTracker } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';

import { IDeployment, IModel, request } from './api';

/** One example row: zeros of the model's first input width, when its signature says it. */
export function exampleData(model: IModel | null): string {
  const input = model?.signature?.inputs?.[0];
  const width = input?.shape?.[1];
  if (typeof width === 'number' && input?.shape.length === 2) {
    return `[[0.0] * ${width}]  # one row for input '${input.name}' (${input.dtype}, ${width} features)`;
  }
  return '[[0.0]]  # replace with rows your model takes';
}

export function scoringSnippet(deployment: IDeployment, model: IModel | null): string {
  return [
    'import jupyter_mlops as mlops',
    '',
    `svc = mlops.get_deployment(${JSON.stringify(deployment.name)})  # ${deployment.image} on ${deployment.target}`,
    `data = ${exampleData(model)}`,
    'answer = svc.score(data)  # POST {"data": data} to svc.scoring_uri, with its key',
    'answer'
  ].join('\n');
}

/** Build the snippet for `name` and put it in a new cell below the active one (a new notebook if none). */
export async function insertSnippet(name: string, tracker: INotebookTracker, commands: CommandRegistry): Promise<void> {
  const deployment = await request<IDeployment>('GET', `deployments/${encodeURIComponent(name)}`, undefined, {
    lines: '0'
  });
  const [modelName, version] = (deployment.models[0] ?? '').split(':');
  const model = modelName
    ? await request<IModel>('GET', `models/${encodeURIComponent(modelName)}/${version}`).catch(() => null)
    : null;
  let panel = tracker.currentWidget;
  if (!panel) {
    panel = await commands.execute('notebook:create-new', { kernelName: 'python3' });
    await panel!.context.ready;
  }
  const notebook = panel!.content;
  const cellModel = notebook.activeCell?.model;
  if (!cellModel || cellModel.sharedModel.getSource().trim() !== '') {
    NotebookActions.insertBelow(notebook);
  }
  notebook.activeCell!.model.sharedModel.setSource(scoringSnippet(deployment, model));
  panel!.activate();
}
