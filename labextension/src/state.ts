/**
 * What the sidebar and the status bar show: the workspace's models, images, deployments and the
 * server's jobs, polled every few seconds (304s while nothing changed), less often when the page
 * is hidden, backing off while the server is unreachable and resuming when it is back.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { IDeployment, IImage, IJob, IModel, IPage, IWorkspace, Resource, request } from './api';

export const POLL_MS = 2000;
const HEALTH_MS = 15000;

export class MlopsState {
  readonly models = new Resource<IPage<IModel>>('models', { limit: '500' });
  readonly images = new Resource<IPage<IImage>>('images', { limit: '500' });
  readonly deployments = new Resource<IPage<IDeployment>>('deployments', { limit: '500' });
  readonly jobs = new Resource<IPage<IJob>>('jobs');
  readonly workspace = new Resource<IWorkspace>('workspace');

  constructor() {
    for (const resource of this._resources()) {
      resource.changed.connect(() => this._changed.emit(), this);
    }
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: POLL_MS, backoff: true, max: 10000 },
      standby: 'when-hidden',
      name: 'jupyter-mlops:state'
    });
    // Recorded states change only when someone looks: probe each deployment now and then.
    this._health = new Poll({
      factory: () => request('GET', 'deployments', undefined, { refresh: 'true', limit: '500' }),
      frequency: { interval: HEALTH_MS, backoff: true, max: 60000 },
      standby: 'when-hidden',
      name: 'jupyter-mlops:health'
    });
  }

  /** Fires when any list changed or the server became (un)reachable. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The first error of the last poll, e.g. while the server restarts. */
  get error(): string | null {
    return this._resources().find(r => r.error)?.error ?? null;
  }

  get running(): IJob[] {
    return (this.jobs.data?.items ?? []).filter(j => j.state === 'running');
  }

  async refresh(): Promise<void> {
    const results = await Promise.allSettled(this._resources().map(r => r.fetch()));
    const failed = results.find(r => r.status === 'rejected');
    if (failed) {
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** Poll now (after an action), not at the next tick. */
  refreshSoon(): void {
    void this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    this._health.dispose();
  }

  private _resources(): Resource<any>[] {
    return [this.models, this.images, this.deployments, this.jobs, this.workspace];
  }

  private _poll: Poll;
  private _health: Poll;
  private _changed = new Signal<this, void>(this);
}
