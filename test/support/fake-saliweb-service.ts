/**
 * A real HTTP server on a free loopback port speaking saliweb's REST
 * protocol: POST /job takes a multipart form and answers with the job's
 * results URL; GET /results/<id> answers 503 until the job is "done", then
 * lists the result files it serves at /files/<id>/<name>. Options make it
 * misbehave (errors, malformed XML, slowness) and can be changed while it
 * runs.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';

export type FakeRoute = 'submit' | 'results' | 'files' | 'other';

export interface FakeSaliwebOptions {
  /** GET /results answers 503 this many times per job (after any `resultsErrorTimes` 500s). */
  notReadyTimes?: number;
  /** GET /results answers 500 this many times per job first. */
  resultsErrorTimes?: number;
  /** POST /job answers with this status (e.g. 500) instead of taking the job. */
  submitStatus?: number;
  /** POST /job answers 200 with this body (true: an HTML page) instead of the job XML. */
  malformedSubmit?: boolean | string;
  /** GET /results answers 200 with this body (true: an HTML page) once the job is done. */
  malformedResults?: boolean | string;
  /** Answers on these routes wait this long (the client may give up first). */
  delayMs?: Partial<Record<FakeRoute, number>>;
  /** The result files of every job, by name. @defaultValue `{ 'output.txt': 'result of <id>\n' }` */
  files?: Record<string, string>;
}

export interface FakeJob {
  id: string;
  /** The secret saliweb puts in result URLs; wrong or missing answers 403. */
  passwd: string;
  fields: Record<string, string>;
  files: Record<string, { filename: string; content: string }>;
  /** Every field and file in the order sent, names repeating as sent (a file as `@<filename>:<content>`). */
  entries: [string, string][];
  /** The Accept header of the submission. */
  accept: string | undefined;
  /** When each GET /results for this job arrived (Date.now()). */
  resultsRequests: number[];
}

export interface FakeSaliwebService {
  /** The service's URL, with a trailing slash as admins often write it. */
  url: string;
  /** Its job submission URL (`<url>job`), what saliweb's SaliWebServiceRunner is given. */
  jobUrl: string;
  /** Live: changes apply to the next request. */
  options: FakeSaliwebOptions;
  jobs: FakeJob[];
  requests: Record<FakeRoute, number>;
  close(): Promise<void>;
}

const XML_HEAD = '<?xml version="1.0"?>\n<saliweb xmlns:xlink="http://www.w3.org/1999/xlink">\n';
const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export async function startFakeSaliwebService(initial: FakeSaliwebOptions = {}): Promise<FakeSaliwebService> {
  const options: FakeSaliwebOptions = { ...initial };
  const jobs: FakeJob[] = [];
  const requests: Record<FakeRoute, number> = { submit: 0, results: 0, files: 0, other: 0 };
  const timers = new Set<NodeJS.Timeout>();
  let base = '';

  const delay = (route: FakeRoute) =>
    new Promise<void>((resolve) => {
      const ms = options.delayMs?.[route] ?? 0;
      if (ms <= 0) return resolve();
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  function reply(res: http.ServerResponse, status: number, body: string, type = 'application/xml'): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  async function readBody(req: http.IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function submit(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    await delay('submit');
    if (options.submitStatus !== undefined) {
      return reply(
        res,
        options.submitStatus,
        '<html><body>Internal Server Error: fake failure</body></html>',
        'text/html',
      );
    }
    // Node's own fetch implementation parses multipart bodies: better tested than anything written here.
    let form: FormData;
    try {
      form = await new Request(`${base}/job`, {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body,
      }).formData();
    } catch (error) {
      return reply(res, 400, `<error>cannot parse form: ${escapeXml((error as Error).message)}</error>`);
    }
    const job: FakeJob = {
      id: `job${jobs.length + 1}`,
      passwd: randomBytes(4).toString('hex'),
      fields: {},
      files: {},
      entries: [],
      accept: req.headers.accept,
      resultsRequests: [],
    };
    for (const [name, value] of form) {
      if (typeof value === 'string') {
        job.fields[name] = value;
        job.entries.push([name, value]);
      } else {
        const content = await value.text();
        job.files[name] = { filename: value.name, content };
        job.entries.push([name, `@${value.name}:${content}`]);
      }
    }
    jobs.push(job);
    if (options.malformedSubmit) {
      const page =
        typeof options.malformedSubmit === 'string' ? options.malformedSubmit : '<html><body>Thanks!</body></html>';
      return reply(res, 200, page, 'text/html');
    }
    const href = `${base}/results/${job.id}?passwd=${job.passwd}`;
    reply(res, 200, `${XML_HEAD}   <job name="${job.id}" xlink:href="${escapeXml(href)}"/>\n</saliweb>\n`);
  }

  async function results(res: http.ServerResponse, job: FakeJob | undefined, passwd: string | null): Promise<void> {
    await delay('results');
    if (!job) return reply(res, 404, '<error>no such job</error>');
    if (passwd !== job.passwd) return reply(res, 403, '<error>wrong password</error>');
    job.resultsRequests.push(Date.now());
    const count = job.resultsRequests.length;
    const errors = options.resultsErrorTimes ?? 0;
    if (count <= errors) return reply(res, 500, '<html>Internal Server Error: fake failure</html>', 'text/html');
    if (count <= errors + (options.notReadyTimes ?? 0)) return reply(res, 503, '<error>job not done</error>');
    if (options.malformedResults) {
      const page =
        typeof options.malformedResults === 'string'
          ? options.malformedResults
          : '<html><body>Down for maintenance</body></html>';
      return reply(res, 200, page, 'text/html');
    }
    // `&amp;` in the hrefs, as saliweb writes them: a client that does not
    // decode entities sends no passwd and gets 403.
    const lines = Object.keys(options.files ?? { 'output.txt': '' }).map((name) => {
      const href = `${base}/files/${job.id}/${encodeURIComponent(name)}?dl=1&passwd=${job.passwd}`;
      return `   <results_file name="${escapeXml(name)}" xlink:href="${escapeXml(href)}"/>\n`;
    });
    reply(res, 200, `${XML_HEAD}${lines.join('')}</saliweb>\n`);
  }

  async function file(res: http.ServerResponse, job: FakeJob | undefined, name: string, passwd: string | null) {
    await delay('files');
    if (!job) return reply(res, 404, 'no such job', 'text/plain');
    if (passwd !== job.passwd) return reply(res, 403, 'wrong password', 'text/plain');
    const content = options.files ? options.files[name] : name === 'output.txt' ? `result of ${job.id}\n` : undefined;
    if (content === undefined) return reply(res, 404, 'no such file', 'text/plain');
    reply(res, 200, content, 'application/octet-stream');
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const parts = url.pathname.split('/').filter((part) => part !== '');
    const passwd = url.searchParams.get('passwd');
    const jobById = (id: string | undefined) => jobs.find((job) => job.id === id);
    let handling: Promise<void>;
    if (req.method === 'POST' && url.pathname === '/job') {
      requests.submit += 1;
      handling = submit(req, res);
    } else if (req.method === 'GET' && parts[0] === 'results' && parts.length === 2) {
      requests.results += 1;
      handling = results(res, jobById(parts[1]), passwd);
    } else if (req.method === 'GET' && parts[0] === 'files' && parts.length === 3) {
      requests.files += 1;
      handling = file(res, jobById(parts[1]), decodeURIComponent(parts[2]!), passwd);
    } else {
      requests.other += 1;
      handling = Promise.resolve(reply(res, 404, 'not found', 'text/plain'));
    }
    handling.catch((error: Error) => reply(res, 500, `fake service bug: ${error.message}`, 'text/plain'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    url: `${base}/`,
    jobUrl: `${base}/job`,
    options,
    jobs,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
