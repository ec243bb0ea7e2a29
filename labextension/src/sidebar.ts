/**
 * The "MLOps" left sidebar: models (name, then versions with tags), images, deployments (state
 * dot, scoring URI) and background jobs, redrawn whenever the polled state changes.
 */
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { IDeployment, IImage, IJob, IModel } from './api';
import { CommandIDs } from './commands';
import { mlopsIcon } from './icons';
import { MlopsState } from './state';

export class MlopsSidebar extends Widget {
  constructor(
    private readonly state: MlopsState,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.id = 'jupyter-mlops-sidebar';
    this.addClass('jp-mlops-Sidebar');
    this.title.icon = mlopsIcon;
    this.title.caption = 'MLOps: models, images, deployments';
    state.changed.connect(this.render, this);
    this.render();
  }

  render(): void {
    const s = this.state;
    const root = el('div', 'jp-mlops-Sidebar-content');
    const header = el('div', 'jp-mlops-header');
    header.append(el('span', 'jp-mlops-title', 'MLOps'), this._button('Refresh', '↻', CommandIDs.refresh, {}));
    root.append(header);
    const ws = s.workspace.data;
    if (ws) {
      const line = el('div', 'jp-mlops-workspace', `Workspace: ${ws.name}`);
      line.title = `${ws.source}; default target ${ws.default_target}`;
      root.append(line);
    }
    if (s.error) {
      root.append(el('div', 'jp-mlops-error', s.error));
    }
    const jobs = (s.jobs.data?.items ?? []).slice(-5).reverse();
    if (jobs.length) {
      root.append(this._section('Jobs', jobs.map(j => this._job(j)), `${s.running.length} running`));
    }
    const models = s.models.data?.items ?? [];
    root.append(this._section('Models', this._models(models), `${new Set(models.map(m => m.name)).size}`));
    const images = s.images.data?.items ?? [];
    root.append(this._section('Images', images.map(i => this._image(i)), `${images.length}`));
    const deployments = s.deployments.data?.items ?? [];
    root.append(this._section('Deployments', deployments.map(d => this._deployment(d)), `${deployments.length}`));
    this.node.replaceChildren(root);
  }

  private _section(title: string, rows: HTMLElement[], count: string): HTMLElement {
    const section = el('section', 'jp-mlops-section');
    section.dataset.section = title.toLowerCase();
    const head = el('h3', 'jp-mlops-section-title', `${title} `);
    head.append(el('span', 'jp-mlops-count', count));
    section.append(head, ...(rows.length ? rows : [el('div', 'jp-mlops-empty', 'none yet')]));
    return section;
  }

  private _models(models: IModel[]): HTMLElement[] {
    const byName = new Map<string, IModel[]>();
    for (const m of models) {
      byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
    }
    return [...byName.entries()].map(([name, versions]) => {
      const group = el('div', 'jp-mlops-model');
      group.dataset.model = name;
      const open = !this._collapsed.has(name);
      const head = el('div', 'jp-mlops-row jp-mlops-model-name', `${open ? '▾' : '▸'} ${name}`);
      head.onclick = () => {
        this._collapsed.has(name) ? this._collapsed.delete(name) : this._collapsed.add(name);
        this.render();
      };
      group.append(head);
      if (open) {
        for (const m of versions) {
          const row = el('div', 'jp-mlops-row jp-mlops-model-version');
          row.dataset.model = m.name;
          row.dataset.version = String(m.version);
          row.append(el('span', 'jp-mlops-ref', `v${m.version}`), el('span', 'jp-mlops-meta', m.framework));
          row.append(...Object.entries(m.tags).map(([k, v]) => el('span', 'jp-mlops-tag', `${k}=${v}`)));
          row.append(this._button('Deploy', 'Deploy…', CommandIDs.deploy, { model: `${m.name}:${m.version}` }));
          group.append(row);
        }
      }
      return group;
    });
  }

  private _image(i: IImage): HTMLElement {
    const row = el('div', 'jp-mlops-row jp-mlops-image');
    row.dataset.image = `${i.name}:${i.version}`;
    row.append(
      el('span', 'jp-mlops-ref', `${i.name}:${i.version}`),
      el('span', 'jp-mlops-meta', `${i.state} · ${i.models.join(', ')}`),
      this._button('Deploy', 'Deploy…', CommandIDs.deploy, { image: `${i.name}:${i.version}` })
    );
    return row;
  }

  private _deployment(d: IDeployment): HTMLElement {
    const box = el('div', 'jp-mlops-deployment');
    box.dataset.deployment = d.name;
    box.dataset.state = d.state;
    const head = el('div', 'jp-mlops-row');
    const dot = el('span', `jp-mlops-dot jp-mlops-state-${d.state}`);
    dot.title = d.state;
    const name = el('span', 'jp-mlops-ref jp-mlops-link', d.name);
    name.onclick = () => void this.commands.execute(CommandIDs.open, { name: d.name });
    head.append(dot, name, el('span', 'jp-mlops-meta', `${d.state} · ${d.target} · ${d.image}`));
    const uri = el('div', 'jp-mlops-uri', d.scoring_uri ?? '(no scoring URI here)');
    uri.title = 'Scoring URI';
    const actions = el('div', 'jp-mlops-actions');
    const args = { name: d.name };
    actions.append(
      this._button('Open panel', 'Open', CommandIDs.open, args),
      this._button('Insert a scoring snippet into the notebook', 'Snippet', CommandIDs.snippet, args),
      this._button('Update to another image', 'Update…', CommandIDs.update, args),
      this._button('Regenerate a key', 'Key…', CommandIDs.regenKey, args),
      this._button('Undeploy', 'Undeploy', CommandIDs.undeploy, args)
    );
    box.append(head, uri, actions);
    return box;
  }

  private _job(j: IJob): HTMLElement {
    const row = el('div', `jp-mlops-row jp-mlops-job jp-mlops-job-${j.state}`);
    const mark = j.state === 'running' ? '⟳' : j.state === 'succeeded' ? '✓' : '✗';
    row.append(el('span', 'jp-mlops-mark', mark), el('span', 'jp-mlops-meta', j.title));
    row.title = j.error?.message ?? j.state;
    return row;
  }

  private _button(title: string, label: string, command: string, args: Record<string, string>): HTMLElement {
    const button = el('button', 'jp-mlops-button', label);
    button.title = title;
    button.onclick = event => {
      event.stopPropagation();
      void this.commands.execute(command, args);
    };
    return button;
  }

  private _collapsed = new Set<string>();
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
