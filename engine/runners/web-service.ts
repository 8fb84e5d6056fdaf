/**
 * Runs a job on another saliweb service through its REST interface, as
 * saliweb's SaliWebServiceRunner does: POST the form to the URL given (the
 * remote service's `…/job`), curl-style fields included, get back
 * the URL of the remote job's results, and GET that URL until it stops
 * answering 503. Each run keeps its own next-check time with exponential
 * backoff, so the poller's short interval costs no HTTP request for runs
 * that are not due; a remote service is asked about a long job a few times
 * an hour, not every second.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { webServiceFieldEntries, type WebServiceSpec } from '../../core/runner-spec.js';
import { RunFailedError, RunnerError } from '../../core/errors.js';
import type { RunHandle, RunJob, RunnerBackend, RunStatus } from './runner.js';
import { writeJobStateFile } from './job-state-file.js';

export interface WebServiceRunnerOptions {
  /** Wait before the first check of a new run; doubles after each check that finds it unfinished. @defaultValue 10 s */
  initialBackoffMs?: number;
  /** @defaultValue 20 minutes */
  maxBackoffMs?: number;
  /** A request (reply and body) taking longer counts as a network fault. @defaultValue 60 s */
  requestTimeoutMs?: number;
  /** At most this many results checks at once, so a thousand due runs do not open a thousand sockets. @defaultValue 8 */
  maxConcurrentRequests?: number;
  fetch?: typeof fetch;
  /** The clock the backoff schedule reads; tests pass a fake one. */
  now?: () => number;
}

const XLINK_NAMESPACE = 'http://www.w3.org/1999/xlink';
const ACCEPT = { Accept: 'application/xml' };

export function recordFile(directory: string, cycle: number): string {
  return path.join(directory, `.saliflow-webservice-${cycle}.url`);
}

/** The start of a reply, on one line and quoted, for error messages. */
export function quoteReply(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}

// ---------------------------------------------------------------------------
// The reply format is tiny and fixed (a <saliweb> root holding empty <job> or
// <results_file> elements), so a few lines of scanning replace an XML
// dependency. They still decode entities (saliweb's hrefs carry `&amp;` in
// their query strings) and resolve the xlink prefix through its namespace.

interface XmlElement {
  name: string;
  attributes: Map<string, string>;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? whole;
  });
}

/** The start tags of a `<saliweb>` document, root first; undefined when it is not one (or is cut short). */
function saliwebElements(text: string): XmlElement[] | undefined {
  const body = text
    .replace(/<\?[\s\S]*?\?>/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!DOCTYPE[^>]*>/gi, '')
    .trim();
  const elements: XmlElement[] = [];
  for (const tag of body.matchAll(/<([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g)) {
    const attributes = new Map<string, string>();
    for (const attribute of tag[2]!.matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      attributes.set(attribute[1]!, decodeEntities(attribute[2] ?? attribute[3] ?? ''));
    }
    elements.push({ name: tag[1]!, attributes });
  }
  const root = elements[0];
  if (root?.name !== 'saliweb' || !body.startsWith('<saliweb')) return undefined;
  // A reply cut short could list only some result files: insist on the end tag.
  if (!/<\/saliweb\s*>$/.test(body) && !/^<saliweb[^>]*\/>$/.test(body)) return undefined;
  return elements;
}

function hrefOf(element: XmlElement, root: XmlElement): string | undefined {
  const declared = [...root.attributes].find(([name, value]) => name.startsWith('xmlns:') && value === XLINK_NAMESPACE);
  const prefix = declared ? declared[0].slice('xmlns:'.length) : 'xlink';
  return element.attributes.get(`${prefix}:href`);
}

function absoluteHttpUrl(href: string, base: string): string | undefined {
  try {
    const url = new URL(href, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** The results URL in a reply to POST /job. */
export function parseJobReply(text: string, base: string): { url: string } | { error: string } {
  const elements = saliwebElements(text);
  if (!elements) return { error: `not a <saliweb> XML document: ${quoteReply(text)}` };
  const root = elements[0]!;
  const job = elements.find((element) => element.name === 'job');
  const href = job && hrefOf(job, root);
  if (href === undefined) return { error: `no <job xlink:href="…"> in ${quoteReply(text)}` };
  const url = absoluteHttpUrl(href, base);
  if (url === undefined) return { error: `the job link ${JSON.stringify(href)} is not an http(s) URL` };
  return { url };
}

/** The result file URLs in a 200 reply to GET <results URL>; none is a valid answer. */
export function parseResultsReply(text: string, base: string): { urls: string[] } | { error: string } {
  const elements = saliwebElements(text);
  if (!elements) return { error: `not a <saliweb> XML document: ${quoteReply(text)}` };
  const root = elements[0]!;
  const urls: string[] = [];
  for (const file of elements.filter((element) => element.name === 'results_file')) {
    const href = hrefOf(file, root);
    const url = href === undefined ? undefined : absoluteHttpUrl(href, base);
    if (url === undefined) return { error: `a <results_file> without a valid xlink:href in ${quoteReply(text)}` };
    urls.push(url);
  }
  return { urls };
}

// ---------------------------------------------------------------------------

function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as Error & { cause?: Error & { code?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no complete reply within ${timeoutMs} ms`;
  if (err?.cause?.message) return `${err.message} (${err.cause.code ?? err.cause.message})`;
  return err?.message ?? String(error);
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/** A `@file` field's path, refused unless it stays in the job directory (symlinks included). */
async function jobFile(directory: string, field: string, value: string): Promise<string> {
  const relative = value.slice(1);
  const root = await fs.realpath(directory);
  const outside = () =>
    new RunFailedError(
      `web-service field "${field}" names ${JSON.stringify(relative)}, which is outside the job directory ${directory}; ` +
        'file fields (values starting with @) must name a file inside the job directory',
    );
  if (!isInside(root, path.resolve(root, relative))) throw outside();
  let real: string;
  try {
    real = await fs.realpath(path.resolve(root, relative));
  } catch {
    throw new RunFailedError(
      `web-service field "${field}" names ${JSON.stringify(relative)}, but there is no such file in the job directory ${directory}`,
    );
  }
  if (!isInside(root, real)) throw outside();
  return real;
}

/** curl's `-F name=value` and `-F name=@file`, in order, names repeating as given (saliweb's runner runs curl). */
async function buildForm(directory: string, fields: WebServiceSpec['fields']): Promise<FormData> {
  const form = new FormData();
  for (const [field, value] of webServiceFieldEntries(fields)) {
    if (!value.startsWith('@')) {
      form.append(field, value);
      continue;
    }
    const file = await jobFile(directory, field, value);
    let content: Buffer;
    try {
      content = await fs.readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const message = `web-service field "${field}": cannot read ${value.slice(1)}: ${(error as Error).message}`;
      // A directory or an unreadable file will not get better; an I/O fault might.
      throw code === 'EISDIR' || code === 'EACCES' || code === 'ENOENT'
        ? new RunFailedError(message)
        : new RunnerError(message);
    }
    form.append(field, new Blob([new Uint8Array(content)]), path.basename(file));
  }
  return form;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await fs.writeFile(`${file}.tmp`, text);
  await fs.rename(`${file}.tmp`, file);
}

async function mapLimit<T>(items: readonly T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

interface Schedule {
  /** No request before this time. */
  due: number;
  /** The last wait; the next is twice as long, up to maxBackoffMs. */
  delay: number;
  /** When a status call last asked about it, to forget runs nobody waits for. */
  seen: number;
}

const RUNNING: RunStatus = { state: 'running' };

export function createWebServiceRunner(options: WebServiceRunnerOptions = {}): RunnerBackend<WebServiceSpec> {
  const {
    initialBackoffMs = 10_000,
    maxBackoffMs = 20 * 60_000,
    requestTimeoutMs = 60_000,
    maxConcurrentRequests = 8,
    fetch: fetchImpl = globalThis.fetch,
    now = Date.now,
  } = options;
  const schedules = new Map<string, Schedule>();
  // Runs whose waits were abandoned (worker moved, job cancelled) stop being
  // asked about; dropping their entry only costs one early check if they return.
  const forgetAfterMs = Math.max(2 * maxBackoffMs, 10 * 60_000);

  function backOff(id: string): void {
    const entry = schedules.get(id);
    const delay = entry ? Math.min(entry.delay * 2, maxBackoffMs) : initialBackoffMs;
    schedules.set(id, { due: now() + delay, delay, seen: now() });
  }

  async function check(handle: RunHandle): Promise<RunStatus> {
    const url = handle.id;
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, { headers: ACCEPT, signal: AbortSignal.timeout(requestTimeoutMs) });
      text = await response.text();
    } catch (error) {
      return { state: 'unknown', reason: `GET ${url}: ${describeFetchError(error, requestTimeoutMs)}` };
    }
    const { status } = response;
    if (status === 503) return RUNNING;
    if (response.ok) {
      const parsed = parseResultsReply(text, url);
      if ('error' in parsed) {
        return { state: 'failed', reason: `remote web service results at ${url} are malformed: ${parsed.error}` };
      }
      try {
        // Our completion rule wants DONE in job-state, and the remote service
        // cannot write into our job directory: its results are the proof.
        await writeJobStateFile(handle.directory, 'DONE');
      } catch (error) {
        return {
          state: 'finished',
          results: parsed,
          detail: `the remote job at ${url} finished, but writing DONE to job-state failed: ${(error as Error).message}`,
        };
      }
      return { state: 'finished', results: parsed };
    }
    const said = `GET ${url}: HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}: ${quoteReply(text)}`;
    // A 4xx means the remote job is gone (expired, wrong password); 408 and
    // 429 are the server asking us to come back later.
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      return { state: 'failed', reason: `the remote web service no longer has this job: ${said}` };
    }
    return { state: 'unknown', reason: said };
  }

  return {
    name: 'WebService',
    kind: 'web-service',
    pollIntervalMs: Math.max(1, Math.min(initialBackoffMs, 1000)),

    async submit(job: RunJob, spec: WebServiceSpec) {
      const record = recordFile(job.directory, job.cycle);
      const earlier = (await fs.readFile(record, 'utf8').catch(() => undefined))?.trim();
      if (earlier) return earlier;

      // saliweb: the URL is the remote service's `…/job` URL, posted to as given.
      const endpoint = spec.url;
      if (!/^https?:\/\//i.test(endpoint) || !URL.canParse(endpoint)) {
        throw new RunFailedError(`web-service URL ${JSON.stringify(spec.url)} is not an absolute http(s) URL`);
      }
      const form = await buildForm(job.directory, spec.fields);
      let response: Response;
      let text: string;
      try {
        response = await fetchImpl(endpoint, {
          method: 'POST',
          headers: ACCEPT,
          body: form,
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        text = await response.text();
      } catch (error) {
        // Retryable. If the remote service did take the job before the fault,
        // the retry submits it again: saliweb's REST interface offers no
        // idempotency key to prevent that.
        throw new RunnerError(`POST ${endpoint}: ${describeFetchError(error, requestTimeoutMs)}`, { cause: error });
      }
      if (!response.ok) {
        const message =
          `remote web service ${endpoint} refused the job: HTTP ${response.status}` +
          `${response.statusText ? ` ${response.statusText}` : ''}: ${quoteReply(text)}`;
        // A gateway error or "unavailable" means the job was not taken: try again later.
        // Anything else is the remote service's verdict on this job.
        throw [502, 503, 504].includes(response.status) ? new RunnerError(message) : new RunFailedError(message);
      }
      const parsed = parseJobReply(text, endpoint);
      if ('error' in parsed) {
        throw new RunFailedError(
          `remote web service ${endpoint} gave an unusable reply to the submission: ${parsed.error}`,
        );
      }
      await writeAtomically(record, parsed.url);
      if (!schedules.has(parsed.url)) {
        schedules.set(parsed.url, { due: now() + initialBackoffMs, delay: initialBackoffMs, seen: now() });
      }
      return parsed.url;
    },

    async status(handles: readonly RunHandle[]) {
      const statuses = new Map<string, RunStatus>();
      const due: RunHandle[] = [];
      const asked = new Set<string>();
      const time = now();
      for (const handle of handles) {
        if (asked.has(handle.id)) continue;
        asked.add(handle.id);
        const entry = schedules.get(handle.id);
        if (entry) entry.seen = time;
        if (entry && entry.due > time) statuses.set(handle.id, RUNNING);
        else due.push(handle);
      }
      await mapLimit(due, maxConcurrentRequests, async (handle) => {
        const status = await check(handle);
        if (status.state === 'running' || status.state === 'unknown') backOff(handle.id);
        else schedules.delete(handle.id);
        statuses.set(handle.id, status);
      });
      for (const [id, entry] of schedules) if (time - entry.seen > forgetAfterMs) schedules.delete(id);
      return statuses;
    },

    async cancel(handle: RunHandle) {
      // saliweb's REST interface has no way to cancel or delete a job: the
      // remote run goes on and its results expire under the remote service's
      // own [oldjobs] policy. All we can do is stop asking about it.
      schedules.delete(handle.id);
    },
  };
}
