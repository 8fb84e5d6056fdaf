/** Loads a service module (its default export is `defineService({...})`). */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Service } from '../core/service.js';

export async function loadService(modulePath: string): Promise<Service> {
  const absolute = path.resolve(modulePath);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    throw new Error(`cannot load the service module ${absolute}: ${(error as Error).message}`, { cause: error });
  }
  const service = loaded.default as Partial<Service> | undefined;
  if (!service || typeof service !== 'object' || typeof service.run !== 'function') {
    throw new Error(
      `${absolute} must have a default export made with defineService({ run, ... }); found ${typeof service}`,
    );
  }
  return service as Service;
}
