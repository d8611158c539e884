import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Definition {
  name: string;
  examples: Array<Record<string, unknown>>;
}

let definitions: Definition[] | undefined;

function load(): Definition[] {
  if (!definitions) {
    const require = createRequire(import.meta.url);
    definitions = JSON.parse(readFileSync(require.resolve('@octokit/webhooks-examples'), 'utf8')) as Definition[];
  }
  return definitions;
}

/**
 * A deep copy of one of GitHub's own example payloads (@octokit/webhooks-examples, api.github.com), chosen by
 * event and action; `withInstallation` picks the first example that carries an App installation.
 */
export function webhookExample(
  event: string,
  action?: string,
  options: { withInstallation?: boolean; index?: number } = {},
): Record<string, unknown> {
  const def = load().find((d) => d.name === event);
  if (!def) throw new Error(`no example payloads for event ${event}`);
  const matching = def.examples.filter(
    (e) =>
      (action === undefined || e.action === action) &&
      (options.withInstallation === undefined || ('installation' in e && e.installation != null) === options.withInstallation),
  );
  const chosen = matching[options.index ?? 0];
  if (!chosen) throw new Error(`no example payload for ${event}${action ? `.${action}` : ''}`);
  return structuredClone(chosen);
}

/** Every example of an event (deep copies). */
export function webhookExamples(event: string): Array<Record<string, unknown>> {
  const def = load().find((d) => d.name === event);
  return def ? def.examples.map((e) => structuredClone(e)) : [];
}

/** Every event name GitHub's examples cover. */
export function exampleEventNames(): string[] {
  return load().map((d) => d.name);
}
