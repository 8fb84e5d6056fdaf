/**
 * Loads a service module (its default export is `defineService({...})`).
 * A TypeScript module is loaded through tsx (a dependency of saliflow), so a
 * service author needs no build step; a compiled `.js` module needs none.
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { serviceDefinitionProblems, type Service } from '../core/service.js';
import { ServiceDefinitionError, ServiceModuleError } from '../core/errors.js';

const TYPESCRIPT = /\.[cm]?tsx?$/;

/** Set once tsx's loaders are in this process (bin/saliflow.js sets it when it runs a checkout's sources). */
const TSX_REGISTERED = Symbol.for('saliflow.tsx-registered');

function tsxActive(): boolean {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  return (globalThis as Record<symbol, unknown>)[TSX_REGISTERED] === true || /\btsx\b/.test(flags);
}

/**
 * Node cannot import TypeScript by itself (below 22.6): tsx's loaders, for ES modules
 * and CommonJS alike (a service project need not be `"type": "module"`), registered
 * once, before the first TypeScript module is asked for (a failed import is remembered).
 */
let registering: Promise<void> | undefined;

/** Once, even when several services are loaded at the same time (worker/main.ts). */
function registerTypeScript(): Promise<void> {
  registering ??= (async () => {
    if (tsxActive()) return;
    (await import('tsx/esm/api')).register();
    createRequire(import.meta.url)('tsx/cjs/api').register();
    (globalThis as Record<symbol, unknown>)[TSX_REGISTERED] = true;
  })();
  return registering;
}

async function importModule(absolute: string): Promise<{ default?: unknown }> {
  if (TYPESCRIPT.test(absolute)) await registerTypeScript();
  const loaded = (await import(pathToFileURL(absolute).href)) as { default?: unknown; 'module.exports'?: unknown };
  // A CommonJS service's `export default` arrives one level down.
  const inner = loaded.default as { default?: unknown; __esModule?: boolean } | undefined;
  return inner && typeof inner === 'object' && inner.__esModule === true && 'default' in inner ? inner : loaded;
}

/**
 * The service `modulePath` names: a TypeScript/JavaScript module, or a saliweb
 * Python service (`python:<module>`, a `.py` file, a package folder), which
 * needs its config file (its `get_web_service(config_file)` reads it).
 */
export async function loadService(modulePath: string, options: { configFile?: string } = {}): Promise<Service> {
  const { isPythonServiceSpec, loadPythonService } = await import('../engine/python-service.js');
  if (isPythonServiceSpec(modulePath)) {
    if (options.configFile === undefined) {
      throw new ServiceModuleError(`the Python service ${modulePath} needs its config file (give --config)`);
    }
    return loadPythonService(modulePath, options.configFile);
  }
  const absolute = path.resolve(modulePath);
  const where = `defineService({...}) of ${absolute}`;
  let loaded: { default?: unknown };
  try {
    loaded = await importModule(absolute);
  } catch (error) {
    // defineService refused the definition as the module ran: say so with the module's file.
    if (error instanceof ServiceDefinitionError || (error as Error | undefined)?.name === 'ServiceDefinitionError') {
      const refused = error as ServiceDefinitionError;
      throw new ServiceModuleError(serviceDefinitionProblems(refused.definition, where).join('\n'), { cause: error });
    }
    throw new ServiceModuleError(`cannot load the service module ${absolute}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const service = loaded.default;
  if (service === undefined) {
    const names = Object.keys(loaded).filter((name) => name !== 'module.exports');
    throw new ServiceModuleError(
      `${absolute} must have a default export made with defineService({ run, ... }); ` +
        (names.length === 0 ? 'it exports nothing' : `it has no default export, only ${names.join(', ')}`),
    );
  }
  // Checked again here: a default export not made with defineService (a plain object) is not.
  const problems = serviceDefinitionProblems(service, where);
  if (problems.length > 0) throw new ServiceModuleError(problems.join('\n'));
  return service as Service;
}
