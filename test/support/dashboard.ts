/** The metrics the shipped Grafana dashboard plots. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/stack/settings.js';

export const DASHBOARD = path.join(REPO_ROOT, 'examples/grafana/saliflow-dashboard.json');

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of every panel (rows' nested panels included), with its panel's title. */
export function dashboardQueries(file = DASHBOARD): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(fs.readFileSync(file, 'utf8')) as { panels: Panel[] };
  const queries: { panel: string; expr: string }[] = [];
  const visit = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr) queries.push({ panel: panel.title ?? '(untitled)', expr: target.expr });
      }
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return queries;
}

/** Metric names in an expression, histogram series (`_bucket`, `_sum`, `_count`) named by their family. */
export function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:saliflow|temporal)_[a-zA-Z0-9_]+)/g)].map((match) =>
    match[1]!.replace(/_(bucket|sum|count)$/, ''),
  );
}
