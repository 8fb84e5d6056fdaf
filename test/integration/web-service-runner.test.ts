/**
 * The web-service runner against a real (fake) saliweb service over HTTP:
 * submission with fields and files, exactly-once, 503s with exponential
 * backoff, transient faults reported as unknown, malformed replies failing
 * with clear messages, and results downloaded into the job directory.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createWebServiceRunner, parseJobReply, parseResultsReply } from '../../engine/runners/web-service.js';
import type { RunHandle, RunJob, RunStatus } from '../../engine/runners/runner.js';
import { readJobStateFile } from '../../engine/runners/job-state-file.js';
import { toResultFiles } from '../../engine/result-files.js';
import { RunFailedError, RunnerError } from '../../core/errors.js';
import { webService } from '../../core/runner-spec.js';
import { startFakeSaliwebService, type FakeSaliwebService } from '../support/fake-saliweb-service.js';
import { until } from '../support/until.js';

let scratch: string;
let service: FakeSaliwebService;
let jobCount = 0;

before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-webservice-'));
});
after(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});
afterEach(async () => {
  await service?.close();
});

async function newJob(files: Record<string, string> = {}): Promise<RunJob> {
  jobCount += 1;
  const directory = path.join(scratch, `job${jobCount}`);
  await fs.mkdir(directory);
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(directory, name)), { recursive: true });
    await fs.writeFile(path.join(directory, name), content);
  }
  return { name: `job${jobCount}`, directory, cycle: 1 };
}

/** Calls status every `everyMs` until the run is finished or failed; every non-running answer is kept. */
async function pollToEnd(
  runner: ReturnType<typeof createWebServiceRunner>,
  handle: RunHandle,
  { timeoutMs = 30_000, everyMs = 5 } = {},
): Promise<{ final: RunStatus; seen: RunStatus[]; calls: number }> {
  const seen: RunStatus[] = [];
  let calls = 0;
  const final = await until(
    `run ${handle.id} to end`,
    async () => {
      calls += 1;
      const status = (await runner.status([handle])).get(handle.id);
      assert.ok(status, 'status() must answer for every handle');
      if (status.state === 'running') return undefined;
      seen.push(status);
      return status.state === 'finished' || status.state === 'failed' ? status : undefined;
    },
    { timeoutMs, everyMs, lastSeen: () => JSON.stringify(seen) },
  );
  return { final, seen, calls };
}

const fast = { initialBackoffMs: 20, maxBackoffMs: 50, requestTimeoutMs: 1000 };

test('identifies itself as saliweb does', () => {
  const runner = createWebServiceRunner();
  assert.equal(runner.name, 'WebService');
  assert.equal(runner.kind, 'web-service');
  assert.ok(runner.pollIntervalMs <= 1000);
});

test('fields and files arrive at the remote service; 503s then results; DONE in job-state; files download', async () => {
  service = await startFakeSaliwebService({ notReadyTimes: 3, files: { 'out.pdb': 'ATOM 1\n', 'log file.txt': 'ok' } });
  const job = await newJob({ 'input.pdb': 'HETATM 42\n', 'sub/extra.txt': 'extra' });
  const runner = createWebServiceRunner(fast);
  const id = await runner.submit(
    job,
    webService(service.jobUrl, { name: 'test job', email: 'a@b.c', pdb: '@input.pdb', extra: '@sub/extra.txt' }),
  );

  assert.equal(service.requests.submit, 1);
  const remote = service.jobs[0]!;
  assert.match(id, new RegExp(`^${service.url}results/job1\\?passwd=${remote.passwd}$`));
  assert.equal(remote.accept, 'application/xml');
  assert.deepEqual(remote.fields, { name: 'test job', email: 'a@b.c' });
  assert.deepEqual(remote.files, {
    pdb: { filename: 'input.pdb', content: 'HETATM 42\n' },
    extra: { filename: 'extra.txt', content: 'extra' },
  });

  const handle = { ...job, id };
  const { final, seen } = await pollToEnd(runner, handle);
  assert.deepEqual(seen, [final], 'only the final answer is not "running"');
  assert.equal(final.state, 'finished');
  assert.equal(remote.resultsRequests.length, 4, 'three 503s, then the results');
  assert.equal(await readJobStateFile(job.directory), 'DONE');

  const urls = final.state === 'finished' ? (final.results?.urls ?? []) : [];
  assert.equal(urls.length, 2);
  const files = toResultFiles({ urls }, job.directory);
  assert.deepEqual(
    files.map((file) => file.name),
    ['out.pdb', 'log file.txt'],
  );
  const downloaded = await files[0]!.download();
  assert.equal(downloaded, path.join(job.directory, 'out.pdb'));
  assert.equal(await fs.readFile(downloaded, 'utf8'), 'ATOM 1\n');
  const renamed = await files[1]!.download('results/log.txt');
  assert.equal(await fs.readFile(renamed, 'utf8'), 'ok');
  assert.equal(renamed, path.join(job.directory, 'results', 'log.txt'));
});

test("curl-style fields, as saliweb's SaliWebServiceRunner takes them: name=value, name=@file, names repeating", async () => {
  service = await startFakeSaliwebService();
  const job = await newJob({ 'a.pdb': 'ATOM a\n', 'b.pdb': 'ATOM b\n' });
  const runner = createWebServiceRunner(fast);
  await runner.submit(
    job,
    webService(service.jobUrl, ['name=two models', 'pdb=@a.pdb', 'pdb=@b.pdb', 'note=x=y', 'empty=']),
  );
  assert.deepEqual(service.jobs[0]!.entries, [
    ['name', 'two models'],
    ['pdb', '@a.pdb:ATOM a\n'],
    ['pdb', '@b.pdb:ATOM b\n'],
    ['note', 'x=y'],
    ['empty', ''],
  ]);
  await assert.rejects(
    runner.submit(await newJob(), webService(service.jobUrl, ['f=@../x'])),
    /outside the job directory/,
  );
  assert.equal(service.requests.submit, 1);
});

test("the URL is posted to as given (saliweb's: the remote service's …/job URL), nothing appended", async () => {
  service = await startFakeSaliwebService();
  const runner = createWebServiceRunner(fast);
  await runner.submit(await newJob(), webService(service.jobUrl, ['name=x']));
  assert.deepEqual(service.requests, { submit: 1, results: 0, files: 0, other: 0 });
  // The service's bare URL is not its job URL: the remote answers 404, and the job fails naming the URL.
  await assert.rejects(runner.submit(await newJob(), webService(service.url, ['name=x'])), (error: Error) => {
    assert.ok(error instanceof RunFailedError, `${error.name}: ${error.message}`);
    assert.match(error.message, /remote web service http:\/\/127\.0\.0\.1:\d+\/ refused the job: HTTP 404/);
    return true;
  });
});

test('backoff grows: requests get further apart while the poller asks every few ms', async () => {
  service = await startFakeSaliwebService({ notReadyTimes: 1000 });
  const job = await newJob();
  const runner = createWebServiceRunner({ initialBackoffMs: 20, maxBackoffMs: 1000, requestTimeoutMs: 1000 });
  const id = await runner.submit(job, webService(service.jobUrl));
  const start = Date.now();
  const times = service.jobs[0]!.resultsRequests;
  let calls = 0;
  // Due at about 20, 60, 140, 300 and 620 ms after submission.
  await until(
    'the fifth results request',
    async () => {
      calls += 1;
      assert.equal((await runner.status([{ ...job, id }])).get(id)?.state, 'running');
      return times.length >= 5 ? true : undefined;
    },
    { everyMs: 3, lastSeen: () => `${times.length} requests` },
  );
  assert.ok(calls > 100, `the loop made only ${calls} status calls`);
  const early = times.filter((time) => time < start + 650).length;
  assert.ok(early >= 4 && early <= 5, `expected 4 or 5 GETs in 650 ms, got ${early}`);
  const gaps = times.slice(1).map((time, i) => time - times[i]!);
  gaps.forEach((gap, i) => {
    const expected = 40 * 2 ** i;
    assert.ok(gap >= expected - 3 && gap <= expected + 60, `gap ${i} was ${gap} ms, expected about ${expected}`);
  });
});

test('backoff schedule on a fake clock: doubling, capped, no request before due', async () => {
  service = await startFakeSaliwebService({ notReadyTimes: 1000 });
  const job = await newJob();
  let clock = 0;
  const runner = createWebServiceRunner({ initialBackoffMs: 100, maxBackoffMs: 400, now: () => clock });
  const id = await runner.submit(job, webService(service.jobUrl));
  const gets = () => service.jobs[0]!.resultsRequests.length;
  const checksAt: number[] = [];
  for (clock = 0; clock <= 2000; clock += 10) {
    const before = gets();
    assert.equal((await runner.status([{ ...job, id }])).get(id)?.state, 'running');
    if (gets() > before) checksAt.push(clock);
  }
  assert.deepEqual(checksAt, [100, 300, 700, 1100, 1500, 1900]);
});

test('a handle the runner has never seen (another worker submitted it) is checked at once', async () => {
  service = await startFakeSaliwebService();
  const job = await newJob();
  const id = await createWebServiceRunner(fast).submit(job, webService(service.jobUrl));
  const other = createWebServiceRunner({ ...fast, initialBackoffMs: 60_000 });
  const status = (await other.status([{ ...job, id }])).get(id);
  assert.equal(status?.state, 'finished');
});

test('a 500 on results is unknown, then the run finishes', async () => {
  service = await startFakeSaliwebService({ resultsErrorTimes: 2, notReadyTimes: 1 });
  const job = await newJob();
  const runner = createWebServiceRunner(fast);
  const id = await runner.submit(job, webService(service.jobUrl));
  const { final, seen } = await pollToEnd(runner, { ...job, id });
  assert.equal(seen.length, 3);
  for (const status of seen.slice(0, 2)) {
    assert.equal(status.state, 'unknown');
    assert.match(
      status.state === 'unknown' ? status.reason : '',
      /GET http:\/\/127\.0\.0\.1:\d+\/results\/job1.*HTTP 500/,
    );
  }
  assert.equal(final.state, 'finished');
  assert.equal(service.jobs[0]!.resultsRequests.length, 4);
});

test('a server slower than requestTimeoutMs is unknown, never finished, and recovers', async () => {
  service = await startFakeSaliwebService({ delayMs: { results: 400 } });
  const job = await newJob();
  // No backoff: the first status call is due at once and asks the server.
  const runner = createWebServiceRunner({ ...fast, initialBackoffMs: 0, requestTimeoutMs: 60 });
  const id = await runner.submit(job, webService(service.jobUrl));
  const started = Date.now();
  const status = (await runner.status([{ ...job, id }])).get(id);
  assert.ok(Date.now() - started < 300, 'the request was cut off at its timeout');
  assert.equal(status?.state, 'unknown');
  assert.match(status?.state === 'unknown' ? status.reason : '', /results\/job1.*no complete reply within 60 ms/);
  assert.equal(await readJobStateFile(job.directory), undefined);

  service.options.delayMs = {};
  const { final } = await pollToEnd(runner, { ...job, id });
  assert.equal(final.state, 'finished');
});

test('network errors: submit throws a retryable RunnerError, status is unknown', async () => {
  service = await startFakeSaliwebService();
  const job = await newJob();
  const runner = createWebServiceRunner(fast);
  const id = await runner.submit(job, webService(service.jobUrl));
  const url = service.jobUrl;
  await service.close();

  // Past the first backoff, and time for fetch to drop its kept-alive socket to the closed server (else the
  // reply is UND_ERR_SOCKET, not ECONNREFUSED): nothing tells the test when that happened.
  await new Promise((resolve) => setTimeout(resolve, 25));
  const status = (await runner.status([{ ...job, id }])).get(id);
  assert.equal(status?.state, 'unknown');
  assert.match(status?.state === 'unknown' ? status.reason : '', /ECONNREFUSED/);

  const other = await newJob();
  await assert.rejects(runner.submit(other, webService(url)), (error: Error) => {
    assert.ok(error instanceof RunnerError, `${error.name}: ${error.message}`);
    assert.match(error.message, /POST http:\/\/127\.0\.0\.1:\d+\/job: .*ECONNREFUSED/);
    return true;
  });
  await assert.rejects(fs.access(path.join(other.directory, '.saliflow-webservice-1.url')));
});

test('a submit answered with 500 fails the job, naming the URL, status and reply', async () => {
  service = await startFakeSaliwebService({ submitStatus: 500 });
  const job = await newJob();
  const runner = createWebServiceRunner(fast);
  await assert.rejects(runner.submit(job, webService(service.jobUrl)), (error: Error) => {
    assert.ok(error instanceof RunFailedError);
    assert.match(
      error.message,
      /^remote web service http:\/\/127\.0\.0\.1:\d+\/job refused the job: HTTP 500 Internal Server Error: "<html><body>Internal Server Error: fake failure/,
    );
    return true;
  });
});

test('a submit answered 502/503/504 is a passing fault, retried rather than failing the job', async () => {
  for (const status of [502, 503, 504]) {
    service = await startFakeSaliwebService({ submitStatus: status });
    const runner = createWebServiceRunner(fast);
    await assert.rejects(runner.submit(await newJob(), webService(service.jobUrl)), (error: Error) => {
      assert.ok(error instanceof RunnerError && !(error instanceof RunFailedError), `${status} is retryable`);
      assert.match(error.message, new RegExp(`refused the job: HTTP ${status}`));
      return true;
    });
    await service.close();
  }
  service = await startFakeSaliwebService();
});

test('malformed replies fail with the reply quoted', async () => {
  service = await startFakeSaliwebService({ malformedSubmit: true });
  const runner = createWebServiceRunner(fast);
  await assert.rejects(runner.submit(await newJob(), webService(service.jobUrl)), (error: Error) => {
    assert.ok(error instanceof RunFailedError);
    assert.match(error.message, /\/job gave an unusable reply.*not a <saliweb> XML document: "<html><body>Thanks!/);
    return true;
  });

  service.options.malformedSubmit = '<saliweb xmlns:xlink="http://www.w3.org/1999/xlink"><job name="x"/></saliweb>';
  await assert.rejects(
    runner.submit(await newJob(), webService(service.jobUrl)),
    /no <job xlink:href="…"> in "<saliweb/,
  );

  service.options.malformedSubmit = false;
  service.options.malformedResults = true;
  const job = await newJob();
  const id = await runner.submit(job, webService(service.jobUrl));
  const { final } = await pollToEnd(runner, { ...job, id });
  assert.equal(final.state, 'failed');
  assert.match(
    final.state === 'failed' ? final.reason : '',
    /results at http:\/\/127\.0\.0\.1:\d+\/results\/job3\?passwd=\w+ are malformed: not a <saliweb> XML document: "<html><body>Down for maintenance/,
  );
  assert.equal(await readJobStateFile(job.directory), undefined);
});

test('a 4xx on results means the remote job is gone: failed', async () => {
  service = await startFakeSaliwebService();
  const job = await newJob();
  const runner = createWebServiceRunner(fast);
  const id = await runner.submit(job, webService(service.jobUrl));
  const wrong = id.replace(/passwd=\w+/, 'passwd=nope');
  const status = (await runner.status([{ ...job, id: wrong }])).get(wrong);
  assert.equal(status?.state, 'failed');
  assert.match(status?.state === 'failed' ? status.reason : '', /no longer has this job: GET .*HTTP 403 Forbidden/);
});

test('exactly once: a second submit of the same cycle returns the recorded URL without POSTing', async () => {
  service = await startFakeSaliwebService();
  const job = await newJob();
  const spec = webService(service.jobUrl, { name: 'x' });
  const first = await createWebServiceRunner(fast).submit(job, spec);
  // A fresh runner, as after a worker crash and an activity retry elsewhere.
  const second = await createWebServiceRunner(fast).submit(job, spec);
  assert.equal(second, first);
  assert.equal(service.requests.submit, 1);
  assert.equal(await fs.readFile(path.join(job.directory, '.saliflow-webservice-1.url'), 'utf8'), first);
  assert.deepEqual(
    (await fs.readdir(job.directory)).filter((name) => name.endsWith('.tmp')),
    [],
  );

  const rerun = await createWebServiceRunner(fast).submit({ ...job, cycle: 2 }, spec);
  assert.notEqual(rerun, first);
  assert.equal(service.requests.submit, 2);
});

test('@file fields outside the job directory, or missing, are refused before anything is sent', async () => {
  service = await startFakeSaliwebService();
  const job = await newJob({ 'ok.txt': 'fine' });
  await fs.writeFile(path.join(scratch, 'secret.txt'), 'secret');
  await fs.symlink(path.join(scratch, 'secret.txt'), path.join(job.directory, 'link.txt'));
  const runner = createWebServiceRunner(fast);
  for (const value of ['@../secret.txt', '@/etc/passwd', '@link.txt', '@sub/../../secret.txt', '@']) {
    await assert.rejects(runner.submit(job, webService(service.jobUrl, { a: 'x', f: value })), (error: Error) => {
      assert.ok(error instanceof RunFailedError, `${value}: ${error.name}`);
      assert.match(error.message, /field "f" names .* which is outside the job directory/);
      return true;
    });
  }
  await assert.rejects(
    runner.submit(job, webService(service.jobUrl, { f: '@missing.txt' })),
    /field "f" names "missing.txt", but there is no such file in the job directory/,
  );
  assert.equal(service.requests.submit, 0);
  await assert.rejects(runner.submit(job, webService('ftp://example.org', {})), /not an absolute http\(s\) URL/);
});

test('downloads refuse targets outside the job directory and report HTTP errors', async () => {
  service = await startFakeSaliwebService();
  const job = await newJob();
  const runner = createWebServiceRunner(fast);
  const id = await runner.submit(job, webService(service.jobUrl));
  const { final } = await pollToEnd(runner, { ...job, id });
  const [file] = toResultFiles(final.state === 'finished' ? final.results : undefined, job.directory);
  assert.ok(file);
  await assert.rejects(file.download('../escape.txt'), /refusing to download .* outside the job directory/);
  await assert.rejects(file.download('/tmp/escape.txt'), /outside the job directory/);
  await fs.symlink(scratch, path.join(job.directory, 'up'));
  await assert.rejects(file.download('up/escape.txt'), /outside the job directory/);

  const [missing] = toResultFiles({ urls: [file.url.replace('output.txt', 'nope.txt')] }, job.directory);
  await assert.rejects(
    missing!.download(),
    /GET http:\/\/127\.0\.0\.1:\d+\/files\/job1\/nope\.txt\?.*: HTTP 404 Not Found/,
  );
  assert.deepEqual((await fs.readdir(job.directory)).sort(), ['.saliflow-webservice-1.url', 'job-state', 'up']);
});

test('reply parsing: entities, other prefixes, single quotes, relative links, truncation', () => {
  const base = 'http://remote.example/service/job';
  assert.deepEqual(
    parseJobReply(
      `<?xml version="1.0"?>\n<!-- hi --><saliweb xmlns:x="http://www.w3.org/1999/xlink">` +
        `<job name='j' x:href='results/j?a=1&amp;b=&#50;'/></saliweb>`,
      base,
    ),
    { url: 'http://remote.example/service/results/j?a=1&b=2' },
  );
  assert.deepEqual(parseResultsReply('<saliweb xmlns:xlink="http://www.w3.org/1999/xlink"></saliweb>', base), {
    urls: [],
  });
  const cut = '<saliweb xmlns:xlink="http://www.w3.org/1999/xlink"><results_file name="a" xlink:href="http://h/a"/>';
  assert.match(JSON.stringify(parseResultsReply(cut, base)), /not a <saliweb> XML document/);
  assert.match(
    JSON.stringify(parseResultsReply('<saliweb><results_file name="a" xlink:href="javascript:x"/></saliweb>', base)),
    /without a valid xlink:href/,
  );
  assert.match(JSON.stringify(parseJobReply('', base)), /not a <saliweb> XML document: \\"\\"/);
});
