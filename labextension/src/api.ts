/**
 * The REST API of the server extension (jupyter_mlops/server): typed requests, one error type,
 * and a poller that asks with If-None-Match so an unchanged list costs a 304 and no body.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

export interface IModel {
  name: string;
  version: number;
  framework: string;
  tags: Record<string, string>;
  description: string | null;
  size: number;
  created_at: number;
  signature: { inputs: ITensor[]; outputs: ITensor[] } | null;
}

export interface ITensor {
  name: string;
  dtype: string;
  shape: (number | string | null)[];
}

export interface IImage {
  name: string;
  version: number;
  state: string;
  models: string[];
  tags: Record<string, string>;
  created_at: number;
}

export interface IEvent {
  time: number;
  kind: string;
  message: string;
}

export interface IDeployment {
  name: string;
  image: string;
  target: string;
  state: string;
  scoring_uri: string | null;
  swagger_uri: string | null;
  models: string[];
  auth: boolean;
  tags: Record<string, string>;
  updated_at: number;
  events: IEvent[];
  output?: string[];
}

export interface IJob {
  id: string;
  command: string;
  title: string;
  state: 'running' | 'succeeded' | 'failed';
  log: string[];
  log_lines: number;
  result: any;
  error: { status: number; message: string } | null;
}

export interface IPage<T> {
  items: T[];
  has_more?: boolean;
}

export interface IWorkspace {
  name: string;
  source: string;
  default_target: string;
}

/** An error the server answered, with its one-line message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

const settings = (): ServerConnection.ISettings => ServerConnection.makeSettings();

/** The absolute URL of a route under /jupyter-mlops/api/. */
export function apiUrl(path: string): string {
  return URLExt.join(settings().baseUrl, 'jupyter-mlops', 'api', path);
}

/** Call a route; JSON in and out; a 4xx/5xx becomes an ApiError with the server's message. */
export async function request<T = any>(
  method: string,
  path: string,
  body?: unknown,
  query?: Record<string, string>
): Promise<T> {
  const search = query ? '?' + new URLSearchParams(query).toString() : '';
  const init: RequestInit = { method, cache: 'no-store' };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  const response = await ServerConnection.makeRequest(apiUrl(path) + search, init, settings());
  return decode<T>(response);
}

async function decode<T>(response: Response): Promise<T> {
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(data?.message ?? response.statusText, response.status);
  }
  return data as T;
}

/** Start a background job (build, deploy, update) and resolve with its result when it ends. */
export async function runJob(
  path: string,
  body: unknown,
  onLog?: (lines: string[]) => void
): Promise<any> {
  let job = await request<IJob>('POST', path, body);
  let seen = 0;
  for (;;) {
    if (job.log.length) {
      onLog?.(job.log);
    }
    seen = job.log_lines;
    if (job.state !== 'running') {
      break;
    }
    await new Promise(resolve => setTimeout(resolve, 700));
    job = await request<IJob>('GET', `jobs/${job.id}`, undefined, { since: String(seen) });
  }
  if (job.state === 'failed') {
    throw new ApiError(job.error?.message ?? 'The job failed.', job.error?.status ?? 500);
  }
  return job.result;
}

/**
 * A GET route polled with If-None-Match: `changed` fires only when the server's answer changed.
 * A failed poll (server restarting, network down) keeps the last data and sets `error`.
 */
export class Resource<T> {
  constructor(
    readonly path: string,
    readonly query: Record<string, string> = {}
  ) {}

  data: T | null = null;
  error: string | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async fetch(): Promise<void> {
    const search = Object.keys(this.query).length ? '?' + new URLSearchParams(this.query) : '';
    const headers: Record<string, string> = this._etag ? { 'If-None-Match': this._etag } : {};
    const hadError = this.error !== null;
    try {
      const response = await ServerConnection.makeRequest(
        apiUrl(this.path) + search,
        { method: 'GET', cache: 'no-store', headers },
        settings()
      );
      if (response.status === 304) {
        this.error = null;
      } else {
        this.data = await decode<T>(response);
        this._etag = response.headers.get('Etag');
        this.error = null;
        this._changed.emit();
        return;
      }
    } catch (reason) {
      this.error = reason instanceof ApiError ? reason.message : 'The Jupyter server is not reachable; retrying.';
      this._etag = null;
    }
    if (hadError !== (this.error !== null)) {
      this._changed.emit();
    }
    if (this.error !== null) {
      throw new Error(this.error);
    }
  }

  private _etag: string | null = null;
  private _changed = new Signal<this, void>(this);
}
