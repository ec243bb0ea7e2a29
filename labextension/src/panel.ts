/**
 * A deployment in the main area: state, URIs, recent events, the log tail and the live monitoring
 * dashboard (the plotly figure of `monitor`, drawn by JupyterLab's plotly renderer), refreshed
 * while the panel is visible.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommandRegistry } from '@lumino/commands';
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { ApiError, IDeployment, request } from './api';
import { CommandIDs } from './commands';
import { mlopsIcon } from './icons';
import { MlopsState } from './state';
import { el } from './sidebar';

const PLOTLY = 'application/vnd.plotly.v1+json';

class DeploymentView extends Panel {
  constructor(
    readonly deployment: string,
    private readonly commands: CommandRegistry,
    private readonly rendermime: IRenderMimeRegistry | null,
    state: MlopsState
  ) {
    super();
    this.addClass('jp-mlops-Panel');
    // An action anywhere (sidebar, another panel, a notebook) shows here at the next poll of the state.
    state.changed.connect(() => this.isVisible && void this._poll.refresh(), this);
    this._info = el('div', 'jp-mlops-panel-info');
    const top = new Widget();
    top.node.append(this._info, el('h3', 'jp-mlops-section-title', 'Live dashboard'), this._summary);
    this.addWidget(top);
    this._board.addClass('jp-mlops-panel-board');
    this.addWidget(this._board);
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: 5000, backoff: true, max: 60000 },
      standby: () => !this.isVisible || 'when-hidden',
      name: `jupyter-mlops:panel:${deployment}`
    });
  }

  async refresh(): Promise<void> {
    try {
      const d = await request<IDeployment>('GET', `deployments/${encodeURIComponent(this.deployment)}`, undefined, {
        lines: '30'
      });
      this._showInfo(d);
    } catch (reason) {
      this._info.replaceChildren(el('div', 'jp-mlops-error', String((reason as Error).message)));
      if (reason instanceof ApiError && reason.status === 404) {
        this._poll.dispose();
        return;
      }
      throw reason;
    }
    if (this._ticks++ % 6 === 0) {
      await this._showBoard();
    }
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    void this._poll.refresh();
  }

  protected onAfterAttach(msg: Message): void {
    void this._poll.refresh();
  }

  private _showInfo(d: IDeployment): void {
    const head = el('div', 'jp-mlops-panel-head');
    head.append(el('span', `jp-mlops-dot jp-mlops-state-${d.state}`), el('h2', '', d.name));
    head.append(el('span', 'jp-mlops-meta', `${d.state} · ${d.target} · image ${d.image} · ${d.models.join(', ')}`));
    const actions = el('div', 'jp-mlops-actions');
    for (const [label, id] of [
      ['Insert scoring snippet', CommandIDs.snippet],
      ['Update…', CommandIDs.update],
      ['Regenerate key…', CommandIDs.regenKey],
      ['Undeploy…', CommandIDs.undeploy]
    ]) {
      const button = el('button', 'jp-mlops-button', label);
      button.onclick = () => void this.commands.execute(id, { name: this.deployment });
      actions.append(button);
    }
    const table = el('table', 'jp-mlops-kv');
    for (const [k, v] of [
      ['Scoring URI', d.scoring_uri ?? ''],
      ['Swagger URI', d.swagger_uri ?? ''],
      ['Auth', d.auth ? 'keys (Authorization: Bearer)' : 'none']
    ]) {
      const row = el('tr', '');
      row.append(el('th', '', k), el('td', 'jp-mlops-uri', v));
      table.append(row);
    }
    const events = el('table', 'jp-mlops-events');
    for (const e of d.events.slice(-8).reverse()) {
      const row = el('tr', '');
      row.append(el('td', '', new Date(e.time * 1000).toLocaleTimeString()), el('td', '', e.kind), el('td', '', e.message));
      events.append(row);
    }
    const logIndex = (d.output ?? []).findIndex(line => line.startsWith('log tail:'));
    const log = el('pre', 'jp-mlops-log', logIndex < 0 ? '(no log lines)' : d.output!.slice(logIndex + 1).join('\n'));
    this._info.replaceChildren(
      head,
      actions,
      table,
      el('h3', 'jp-mlops-section-title', 'Recent events'),
      events,
      el('h3', 'jp-mlops-section-title', 'Log tail'),
      log
    );
  }

  private async _showBoard(): Promise<void> {
    const board = await request('GET', `deployments/${encodeURIComponent(this.deployment)}/dashboard`, undefined, {
      since: '1h'
    });
    this._summary.textContent =
      `${board.requests} request${board.requests === 1 ? '' : 's'} in the last hour` + (board.drifted.length ? `; drifted: ${board.drifted.join(', ')}` : '');
    const rendermime = this.rendermime;
    if (!rendermime || !rendermime.mimeTypes.includes(PLOTLY)) {
      this._summary.textContent += " (JupyterLab's plotly renderer is not installed: no charts)";
      return;
    }
    const renderer = rendermime.createRenderer(PLOTLY);
    await renderer.renderModel(rendermime.createModel({ data: { [PLOTLY]: board.figure } }));
    this._renderer?.dispose();
    this._renderer = renderer;
    this._board.addWidget(renderer);
  }

  private _info: HTMLElement;
  private _summary = el('div', 'jp-mlops-meta');
  private _board = new Panel();
  private _poll: Poll;
  private _ticks = 0;
  private _renderer: Widget | null = null;
}

export function deploymentPanel(
  name: string,
  commands: CommandRegistry,
  rendermime: IRenderMimeRegistry | null,
  state: MlopsState
): MainAreaWidget<DeploymentView> {
  const widget = new MainAreaWidget({ content: new DeploymentView(name, commands, rendermime, state) });
  widget.id = panelId(name);
  widget.title.label = `Deployment ${name}`;
  widget.title.icon = mlopsIcon;
  widget.title.closable = true;
  return widget;
}

export const panelId = (name: string): string => `jupyter-mlops-deployment-${name}`;
