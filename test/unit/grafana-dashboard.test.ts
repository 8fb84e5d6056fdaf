/**
 * The shipped Grafana dashboard plots only metrics saliflow defines (the
 * integration test checks its temporal_* names against a real scrape), and
 * every saliflow metric is on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SALIFLOW_METRICS } from '../../engine/job-metrics.js';
import { dashboardQueries, metricNames } from '../support/dashboard.js';

test('every saliflow metric the dashboard plots is one the code defines, with labels it has', () => {
  const defined = new Map<string, readonly string[]>(SALIFLOW_METRICS.map((metric) => [metric.name, metric.labels]));
  const queries = dashboardQueries();
  assert.ok(queries.length >= 10, 'the dashboard has its panels');
  const plotted = new Set<string>();
  for (const { panel, expr } of queries) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `panel "${panel}" plots a metric: ${expr}`);
    for (const name of names.filter((n) => n.startsWith('saliflow_'))) {
      const labels = defined.get(name);
      assert.ok(labels, `panel "${panel}" plots ${name}, which saliflow does not define`);
      plotted.add(name);
      // Labels the query filters or groups on: `state="…"`, `by (le, state)`.
      const used = [
        ...[...expr.matchAll(/\b(\w+)\s*(?:=~|!~|!=|=)\s*"/g)].map((match) => match[1]!),
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((match) => match[1]!.split(',').map((l) => l.trim())),
      ];
      for (const label of used) {
        const known: readonly string[] = ['service', 'le', ...labels];
        // A label of another metric in the same expression is checked with that metric.
        if (!known.includes(label) && names.length === 1)
          assert.fail(`panel "${panel}": ${name} has no label ${label}`);
      }
    }
  }
  for (const metric of SALIFLOW_METRICS) assert.ok(plotted.has(metric.name), `the dashboard plots ${metric.name}`);
});
