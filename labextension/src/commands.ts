/**
 * Every action, as a JupyterLab command: the sidebar's buttons, the context menus and the command
 * palette all run these. Arguments missing from a palette call are asked for.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, InputDialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Contents } from '@jupyterlab/services';

import { IImage, IModel, request, runJob } from './api';
import { askForm, pairs } from './forms';
import { deploymentPanel, panelId } from './panel';
import { insertSnippet } from './snippet';
import { MlopsState } from './state';

export namespace CommandIDs {
  export const openSidebar = 'jupyter-mlops:open-sidebar';
  export const refresh = 'jupyter-mlops:refresh';
  export const register = 'jupyter-mlops:register-model';
  export const build = 'jupyter-mlops:build-image';
  export const deploy = 'jupyter-mlops:deploy';
  export const update = 'jupyter-mlops:update-deployment';
  export const undeploy = 'jupyter-mlops:undeploy';
  export const regenKey = 'jupyter-mlops:regen-key';
  export const open = 'jupyter-mlops:open-deployment';
  export const snippet = 'jupyter-mlops:insert-snippet';
}

export const MODEL_FILE = /\.(onnx|pkl|joblib)$/i;
export const SCORING_SCRIPT = /^score.*\.py$/i;
export const TARGETS = ['process', 'docker', 'kubernetes', 'edge'];

export interface IDeps {
  app: JupyterFrontEnd;
  state: MlopsState;
  sidebarId: string;
  browsers: IFileBrowserFactory | null;
  notebooks: INotebookTracker | null;
  rendermime: IRenderMimeRegistry | null;
}

/** Run an action with a notification that ends in success or the server's one-line error. */
async function act<T>(state: MlopsState, pending: string, work: Promise<T>, done: (r: T) => string): Promise<T> {
  Notification.promise(
    work.then(r => done(r)),
    {
    pending: { message: pending, options: { autoClose: false } },
    success: { message: (text: unknown) => String(text), options: { autoClose: 4000 } },
    error: { message: (e: any) => String(e?.message ?? e), options: { autoClose: 10000 } }
    }
  );
  try {
    return await work;
  } finally {
    state.refreshSoon();
  }
}

function selected(browsers: IFileBrowserFactory | null): Contents.IModel | null {
  const items = browsers?.tracker.currentWidget?.selectedItems();
  const first = items?.next();
  return first && !first.done ? first.value : null;
}

async function pick(title: string, label: string, items: string[]): Promise<string | null> {
  if (!items.length) {
    Notification.warning(`${title}: nothing to choose from.`, { autoClose: 4000 });
    return null;
  }
  const result = await InputDialog.getItem({ title, label, items });
  return result.button.accept ? result.value : null;
}

export function addCommands(deps: IDeps): void {
  const { app, state } = deps;
  const commands = app.commands;
  const deploymentNames = () => (state.deployments.data?.items ?? []).map(d => d.name);
  const imageRefs = () => (state.images.data?.items ?? []).map(i => `${i.name}:${i.version}`);
  const modelRefs = () => (state.models.data?.items ?? []).map(m => `${m.name}:${m.version}`);
  // Context-menu items pass {context: true}: the row right-clicked in the sidebar says what.
  const hit = (args: any, key: string): string | undefined =>
    args.context ? app.contextMenuHitTest(node => !!node.dataset?.[key])?.dataset[key] : undefined;
  const panelOf = (name: string) => [...app.shell.widgets('main')].find(w => w.id === panelId(name));
  const nameArg = async (args: any, title: string): Promise<string | null> =>
    (args.name as string) ?? hit(args, 'deployment') ?? pick(title, 'Deployment', deploymentNames());

  commands.addCommand(CommandIDs.openSidebar, {
    label: 'Show the MLOps Sidebar',
    execute: () => app.shell.activateById(deps.sidebarId)
  });

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh the MLOps Sidebar',
    execute: () => state.refresh()
  });

  commands.addCommand(CommandIDs.register, {
    label: 'Register Model…',
    caption: 'Register this file or folder as the next version of a model',
    isVisible: args => {
      const item = args.path ? null : selected(deps.browsers);
      return !!args.path || !item || item.type === 'directory' || MODEL_FILE.test(item.name);
    },
    execute: async args => {
      const path = (args.path as string) ?? selected(deps.browsers)?.path ?? '';
      const stem = PathExt.basename(path).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '-');
      const values = await askForm(
        'Register model',
        [
          { name: 'path', label: 'File or folder', value: path },
          { name: 'name', label: 'Model name', value: stem },
          { name: 'tags', label: 'Tags', placeholder: 'stage=dev, owner=me' },
          { name: 'description', label: 'Description', placeholder: '(optional)' }
        ],
        'Register'
      );
      if (!values) {
        return;
      }
      const body = { path: values.path, name: values.name, tags: pairs(values.tags), description: values.description || null };
      return act(state, `Registering ${values.name}…`, request<IModel>('POST', 'models', body), m => `Registered ${m.name}:${m.version}.`);
    }
  });

  commands.addCommand(CommandIDs.build, {
    label: 'Build Image…',
    caption: 'Build an image of models, this scoring script and the inference server',
    isVisible: () => {
      const item = selected(deps.browsers);
      return !item || (item.type === 'file' && SCORING_SCRIPT.test(item.name));
    },
    execute: async args => {
      const item = selected(deps.browsers);
      const script = (args.script as string) ?? (item && SCORING_SCRIPT.test(item.name) ? item.path : '');
      const models = modelRefs();
      const values = await askForm(
        'Build image',
        [
          { name: 'name', label: 'Image name', value: (args.name as string) ?? '' },
          { name: 'models', label: 'Models', value: (args.models as string) ?? models[0] ?? '', help: 'NAME:VERSION, comma separated' },
          { name: 'script', label: 'Scoring script', value: script, placeholder: '(none: ONNX scores with no code)' },
          { name: 'requirements', label: 'Requirements file', placeholder: '(optional)' },
          { name: 'no_docker', label: 'Build context only (no Docker; enough for the process target)', checkbox: true }
        ],
        'Build'
      );
      if (!values) {
        return;
      }
      const body = {
        name: values.name,
        models: pairs(values.models),
        script: values.script || null,
        requirements: values.requirements || null,
        no_docker: values.no_docker
      };
      return act(state, `Building image ${values.name}…`, runJob('images', body), (i: IImage) => `Built ${i.name}:${i.version} (${i.state}).`);
    }
  });

  commands.addCommand(CommandIDs.deploy, {
    label: 'Deploy…',
    caption: 'Deploy a model version or an image as a scoring service',
    execute: async args => {
      const version = hit(args, 'version');
      const model = (args.model as string) ?? (version ? `${hit(args, 'model')}:${version}` : undefined);
      args = { ...args, image: (args.image as string) ?? hit(args, 'image') };
      const images = (state.images.data?.items ?? []).filter(i => !model || i.models.includes(model));
      const NEW = model ? `new image from ${model}` : null;
      const choices = [...(NEW ? [NEW] : []), ...images.map(i => `${i.name}:${i.version}`)];
      if (!choices.length) {
        Notification.warning('No image to deploy yet: build one, or deploy a model version.', { autoClose: 5000 });
        return;
      }
      const target = state.workspace.data?.default_target ?? 'process';
      const values = await askForm(
        model ? `Deploy ${model}` : 'Deploy',
        [
          { name: 'name', label: 'Deployment name', value: (model ?? (args.image as string) ?? '').split(':')[0] },
          { name: 'image', label: 'Image', choices, value: (args.image as string) ?? choices[0] },
          { name: 'target', label: 'Target', choices: TARGETS, value: target },
          { name: 'port', label: 'Port', placeholder: '(a free one)' },
          { name: 'auth', label: 'Require a key (auth)', checkbox: true, checked: true },
          { name: 'collect', label: 'Collect inputs, outputs and latency', checkbox: true }
        ],
        'Deploy'
      );
      if (!values) {
        return;
      }
      const name = values.name as string;
      const work = (async () => {
        let image = values.image as string;
        if (image === NEW) {
          // A no-code image of the model; the process target needs its build context only.
          const built = await runJob('images', { name, models: [model], no_docker: values.target === 'process' });
          image = `${built.name}:${built.version}`;
        }
        const body: Record<string, unknown> = { name, image, target: values.target, no_auth: !values.auth, collect: values.collect };
        if (values.port) {
          body.port = values.port;
        }
        return runJob('deployments', body);
      })();
      return act(state, `Deploying ${name}…`, work, d => `${d.name} is ${d.state}: ${d.scoring_uri ?? ''}`);
    }
  });

  commands.addCommand(CommandIDs.update, {
    label: 'Update Deployment to Another Image…',
    execute: async args => {
      const name = await nameArg(args, 'Update deployment');
      if (!name) {
        return;
      }
      const current = state.deployments.data?.items.find(d => d.name === name);
      const image = await pick(`Update ${name} (now ${current?.image ?? '?'})`, 'New image', imageRefs().filter(r => r !== current?.image));
      if (!image) {
        return;
      }
      return act(state, `Updating ${name} to ${image}…`, runJob(`deployments/${encodeURIComponent(name)}/update`, { image }), d => `${d.name} now serves ${d.image}.`);
    }
  });

  commands.addCommand(CommandIDs.undeploy, {
    label: 'Undeploy…',
    execute: async args => {
      const name = await nameArg(args, 'Undeploy');
      if (!name) {
        return;
      }
      const ok = await showDialog({
        title: `Undeploy ${name}?`,
        body: 'The service stops and its keys are deleted.',
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Undeploy' })]
      });
      if (!ok.button.accept) {
        return;
      }
      await act(state, `Undeploying ${name}…`, request('DELETE', `deployments/${encodeURIComponent(name)}`), r => r.message);
      panelOf(name)?.close();
    }
  });

  commands.addCommand(CommandIDs.regenKey, {
    label: 'Regenerate Deployment Key…',
    execute: async args => {
      const name = await nameArg(args, 'Regenerate key');
      if (!name) {
        return;
      }
      const key = (args.key as string) ?? (await pick(`Regenerate a key of ${name}`, 'Key', ['primary', 'secondary']));
      if (!key) {
        return;
      }
      return act(state, `Regenerating the ${key} key of ${name}…`, request('POST', `deployments/${encodeURIComponent(name)}/regen-key`, { key }), r => r.message);
    }
  });

  commands.addCommand(CommandIDs.open, {
    label: 'Open Deployment Panel',
    execute: async args => {
      const name = await nameArg(args, 'Open deployment');
      if (!name) {
        return;
      }
      if (!panelOf(name)) {
        app.shell.add(deploymentPanel(name, commands, deps.rendermime, state), 'main');
      }
      app.shell.activateById(panelId(name));
    }
  });

  commands.addCommand(CommandIDs.snippet, {
    label: 'Insert Scoring Snippet',
    caption: 'Insert Python that scores this deployment into the active notebook',
    isEnabled: () => deps.notebooks !== null,
    execute: async args => {
      const name = await nameArg(args, 'Insert scoring snippet');
      if (!name || !deps.notebooks) {
        return;
      }
      await insertSnippet(name, deps.notebooks, commands).catch(e => Notification.error(String(e.message ?? e)));
    }
  });
}
