/** The status bar item: how many deployments are healthy and how many are not. */
import { Widget } from '@lumino/widgets';

import { MlopsState } from './state';

export class DeploymentStatus extends Widget {
  constructor(private readonly state: MlopsState) {
    super();
    this.addClass('jp-mlops-Status');
    this.node.title = 'MLOps deployments (click: open the MLOps sidebar)';
    state.changed.connect(this.render, this);
    this.render();
  }

  render(): void {
    const all = this.state.deployments.data?.items ?? [];
    const healthy = all.filter(d => d.state === 'healthy').length;
    const changing = all.filter(d => d.state === 'transitioning').length;
    const unhealthy = all.length - healthy - changing;
    const text = this.state.error
      ? 'MLOps: server unreachable'
      : `MLOps: ${healthy} healthy · ${unhealthy} unhealthy` + (changing ? ` · ${changing} changing` : '');
    this.node.textContent = text;
    this.node.dataset.unhealthy = String(unhealthy);
    this.toggleClass('jp-mlops-Status-bad', unhealthy > 0 || this.state.error !== null);
  }
}
