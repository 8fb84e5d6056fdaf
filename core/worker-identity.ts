/**
 * A worker's Temporal identity: `saliflow/<version> <pid>@<host id>`, so `saliflow status` (from
 * the task queue's pollers) says which saliflow each worker runs. The host stays last, after the
 * last `@` (the host queues and the histories' readers take it from there); an operator names a
 * worker `pid@host` (`saliflow drain --worker`). Older workers' identities lack the version.
 */
export interface WorkerIdentity {
  pid: number;
  host: string;
  version: string | undefined;
}

export function workerIdentity(pid: number, host: string, version: string): string {
  return `saliflow/${version} ${pid}@${host}`;
}

/** The parts of an identity; undefined for one that is not a saliflow worker's. */
export function parseWorkerIdentity(identity: string): WorkerIdentity | undefined {
  const match = /^(?:saliflow\/(\S+) )?(\d+)@(.+)$/.exec(identity);
  if (!match) return undefined;
  return { pid: Number(match[2]), host: match[3]!, version: match[1] };
}

/** `pid@host`, as an operator names a worker. */
export function workerName(identity: string): string {
  const parsed = parseWorkerIdentity(identity);
  return parsed ? `${parsed.pid}@${parsed.host}` : identity;
}
