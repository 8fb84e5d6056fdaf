/**
 * The shipped Prometheus alert rules are valid (`promtool check rules`), fire
 * and stay quiet as their unit tests say (`promtool test rules`), and use only
 * metrics and labels saliflow defines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { SALIFLOW_METRICS } from '../../engine/job-metrics.js';
import { REPO_ROOT } from '../../scripts/stack/settings.js';
import { metricNames } from '../support/dashboard.js';

const RULES = path.join(REPO_ROOT, 'examples/prometheus/saliflow-alerts.yml');
const RULE_TESTS = path.join(REPO_ROOT, 'examples/prometheus/saliflow-alerts.test.yml');
const PROMTOOL = process.env.SALIFLOW_PROMTOOL ?? 'promtool';

async function promtool(...args: string[]) {
  const result = await execa(PROMTOOL, args, { reject: false, all: true, cwd: path.dirname(RULES) });
  if (result.failed && (result as { code?: string }).code === 'ENOENT') {
    assert.fail(
      `${PROMTOOL} is not installed: apt-get install --no-install-recommends prometheus (.ci/run does), ` +
        'or set SALIFLOW_PROMTOOL=/path/to/promtool',
    );
  }
  return result;
}

test('promtool accepts the alert rules', async () => {
  const result = await promtool('check', 'rules', RULES);
  assert.equal(result.exitCode, 0, result.all);
  assert.match(result.all ?? '', /SUCCESS: \d+ rules found/);
});

test("the alert rules' unit tests pass", async () => {
  const result = await promtool('test', 'rules', RULE_TESTS);
  assert.equal(result.exitCode, 0, result.all);
});

test('every alert uses saliflow metrics with labels they have, and each is unit-tested', () => {
  const defined = new Map<string, readonly string[]>(SALIFLOW_METRICS.map((metric) => [metric.name, metric.labels]));
  const rules = (
    parse(fs.readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }
  ).groups.flatMap((group) => group.rules);
  assert.ok(rules.length >= 5, 'the rules file has its alerts');
  const tested = fs.readFileSync(RULE_TESTS, 'utf8');
  for (const { alert, expr } of rules) {
    assert.match(tested, new RegExp(`alertname: ${alert}\\b`), `${alert} has a promtool unit test`);
    for (const name of metricNames(expr).filter((n) => n.startsWith('saliflow_'))) {
      const labels = defined.get(name);
      assert.ok(labels, `${alert} uses ${name}, which saliflow does not define`);
      const used = [
        ...[...expr.matchAll(/\b(\w+)\s*(?:=~|!~|!=|=)\s*"/g)].map((match) => match[1]!),
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((match) => match[1]!.split(',').map((l) => l.trim())),
      ];
      for (const label of used) {
        assert.ok(['service', 'le', ...labels].includes(label), `${alert}: ${name} has no label ${label}`);
      }
    }
  }
});
