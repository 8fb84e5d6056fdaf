/**
 * The services of a worker given as a directory (`saliflow worker
 * --services-dir DIR`): one subdirectory per service, holding its config
 * and its module, either as files or as symbolic links to where the service
 * keeps them:
 *
 *   DIR/modfoo/service.conf  ->  /modbase5/home/modfoo/service/conf/modfoo.conf
 *   DIR/modfoo/service.js    ->  /modbase5/home/modfoo/service/service.js
 *
 * The module is the first of service.js, service.mjs, service.cjs,
 * service.ts, service.mts, service.cts that exists; a saliweb Python service
 * is service.py (a module defining its Job and get_web_service) or service/
 * (its package: a folder, or a link to one, holding __init__.py). Every subdirectory
 * whose name does not start with a dot is a service: one missing a file is
 * that service's error at start (a misspelt file never drops a service
 * silently). Files directly in DIR are ignored (a README, say). A linked
 * service.conf is read where it points, so its relative paths are relative
 * to the real file, as when it is given with --config.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StartupError } from '../core/errors.js';

export const SERVICE_CONFIG_FILE = 'service.conf';
export const SERVICE_MODULE_FILES = [
  'service.js',
  'service.mjs',
  'service.cjs',
  'service.ts',
  'service.mts',
  'service.cts',
  'service.py',
];
/** A Python service's package folder (or a link to it) in a service's subdirectory. */
export const SERVICE_PYTHON_PACKAGE = 'service';

/** One service of a worker: its config file and module, and what to call it until its config is read. */
export interface ServiceSpec {
  config: string;
  service: string | undefined;
  label: string;
  /** Why the spec is incomplete (its folder has no module). */
  missing?: string | undefined;
}

/** A linked config is read where it lives: its relative paths (backend.conf, directories) are relative to it. */
function realConfigPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file; // missing: its load says so, naming the path
  }
}

export function servicesInDirectory(dir: string): ServiceSpec[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    throw new StartupError(`--services-dir ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const specs: ServiceSpec[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const folder = path.join(dir, entry.name);
    // A symbolic link to a service's folder counts as its folder.
    if (!(
      entry.isDirectory() ||
      (entry.isSymbolicLink() && fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory())
    ))
      continue;
    const pythonPackage = path.join(folder, SERVICE_PYTHON_PACKAGE);
    const module =
      SERVICE_MODULE_FILES.map((name) => path.join(folder, name)).find((file) => fs.existsSync(file)) ??
      (fs.existsSync(path.join(pythonPackage, '__init__.py')) ? pythonPackage : undefined);
    specs.push({
      label: entry.name,
      config: realConfigPath(path.join(folder, SERVICE_CONFIG_FILE)),
      // A missing module is that service's error when it is loaded.
      service: module,
      missing:
        module === undefined
          ? `${folder} has none of ${SERVICE_MODULE_FILES.join(', ')} nor a Python package ${SERVICE_PYTHON_PACKAGE}/`
          : undefined,
    });
  }
  if (specs.length === 0) {
    throw new StartupError(
      `--services-dir ${dir} has no service: give it one subdirectory per service holding ` +
        `${SERVICE_CONFIG_FILE} and service.js (or service.ts)`,
    );
  }
  return specs;
}
