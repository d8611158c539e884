import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { parse } from 'yaml';

// GitHub Actions cannot run where the tests do, so the workflows are checked against SchemaStore's JSON schema of
// a workflow, and against the rules every workflow here keeps: actions pinned to a full commit SHA (the release in
// a comment), Node 20, a time limit on every job, read-only permissions. kind.yml is also checked for what it
// is for: the worker's tests, real-cluster suite included, on a kind cluster with ingress-nginx.

const root = new URL('../../../', import.meta.url);
const dir = new URL('.github/workflows/', root);
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on'?: unknown;
  'timeout-minutes'?: unknown;
  permissions?: unknown;
  uses?: string;
  steps?: Step[];
}
interface Workflow {
  on: unknown;
  permissions?: unknown;
  jobs: Record<string, Job>;
}

const text = (file: string) => readFileSync(new URL(file, dir), 'utf8');
const workflow = (file: string) => parse(text(file)) as Workflow;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps ?? []);

/** Read-only: `read-all`, or a map whose every scope is `read` or `none`. */
function readOnly(permissions: unknown): boolean {
  if (permissions === 'read-all' || (permissions !== null && typeof permissions === 'object' && Object.keys(permissions).length === 0)) return true;
  if (permissions === null || typeof permissions !== 'object') return false;
  return Object.values(permissions).every((v) => v === 'read' || v === 'none');
}

describe('.github/workflows', () => {
  it('has workflows', () => {
    expect(files).toContain('kind.yml');
  });

  it.each(files)('%s is valid against SchemaStore\'s github-workflow schema', (file) => {
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(readFileSync(require.resolve('schemastore/schemas/json/github-workflow.json'), 'utf8'));
    // It names draft-07 as "http://json-schema.org/draft-07/schema" (no "#"), a URI ajv does not map to the
    // draft-07 meta-schema it has; the draft is ajv's default anyway.
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const valid = validate(workflow(file));
    expect(ajv.errorsText(validate.errors)).toBe('No errors');
    expect(valid).toBe(true);
  });

  it.each(files)('%s pins every action to a full commit SHA, with the release in a comment', (file) => {
    const w = workflow(file);
    const used = [...steps(w).map((s) => s.uses), ...Object.values(w.jobs).map((j) => j.uses)].filter((u): u is string => u !== undefined);
    expect(used.length).toBeGreaterThan(0);
    for (const uses of used.filter((u) => !u.startsWith('./'))) expect(uses).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
    const lines = text(file)
      .split('\n')
      .filter((l) => /^\s*(-\s+)?uses:/.test(l) && !/uses:\s*\.\//.test(l));
    expect(lines).toHaveLength(used.filter((u) => !u.startsWith('./')).length);
    for (const line of lines) expect(line).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it.each(files)('%s sets up Node 20, limits every job\'s time and asks for read-only permissions', (file) => {
    const w = workflow(file);
    for (const s of steps(w).filter((s) => s.uses?.startsWith('actions/setup-node@'))) expect(String(s.with?.['node-version'])).toMatch(/^20(\.|$)/);
    for (const [name, job] of Object.entries(w.jobs)) {
      if (job.steps?.some((s) => /\b(npm|pnpm|node)\b/.test(s.run ?? ''))) {
        expect({ job: name, node: job.steps.some((s) => s.uses?.startsWith('actions/setup-node@')) }).toEqual({ job: name, node: true });
      }
      if (job.uses === undefined) expect({ job: name, timeout: job['timeout-minutes'] }).toEqual({ job: name, timeout: expect.any(Number) });
      if (job.permissions !== undefined) expect({ job: name, readOnly: readOnly(job.permissions) }).toEqual({ job: name, readOnly: true });
    }
    expect(w.permissions).toBeDefined();
    expect(readOnly(w.permissions)).toBe(true);
  });
});

describe('kind.yml', () => {
  const w = workflow('kind.yml');
  const all = steps(w);
  const job = Object.values(w.jobs)[0]!;

  it('runs on pushes to main, on pull requests and by hand, within 30 minutes', () => {
    expect(w.on).toMatchObject({ push: { branches: ['main'] } });
    expect(Object.keys(w.on as object).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch']);
    expect(job['runs-on']).toBe('ubuntu-latest');
    expect(job['timeout-minutes']).toBe(30);
    expect(w.permissions).toEqual({ contents: 'read' });
  });

  it('makes a kind cluster mapping ports 80 and 443, with ingress-nginx\'s kind manifest at a pinned commit, waited for', () => {
    const kind = all.find((s) => s.uses?.startsWith('helm/kind-action@'));
    const config = String(kind?.with?.config);
    expect(existsSync(new URL(config, root))).toBe(true);
    const cluster = parse(readFileSync(new URL(config, root), 'utf8')) as { kind: string; nodes: Array<{ extraPortMappings?: Array<{ containerPort: number; hostPort: number }> }> };
    expect(cluster.kind).toBe('Cluster');
    const ports = cluster.nodes.flatMap((n) => n.extraPortMappings ?? []);
    expect(ports).toEqual(expect.arrayContaining([expect.objectContaining({ containerPort: 80, hostPort: 80 }), expect.objectContaining({ containerPort: 443, hostPort: 443 })]));
    const runs = all.map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/kubectl apply -f https:\/\/raw\.githubusercontent\.com\/kubernetes\/ingress-nginx\/[0-9a-f]{40}\/deploy\/static\/provider\/kind\/deploy\.yaml/);
    expect(runs).toMatch(/kubectl wait --namespace ingress-nginx --for=condition=ready pod/);
    // Before the tests: the cluster, ingress-nginx, then EPHEMERA_TEST_KUBECONFIG.
    const at = (re: RegExp) => all.findIndex((s) => re.test(s.uses ?? s.run ?? ''));
    expect(at(/^helm\/kind-action@/)).toBeLessThan(at(/ingress-nginx/));
    expect(at(/ingress-nginx/)).toBeLessThan(at(/EPHEMERA_TEST_KUBECONFIG=.*>> "\$GITHUB_ENV"/));
    expect(at(/EPHEMERA_TEST_KUBECONFIG=/)).toBeLessThan(at(/npm test/));
  });

  it('runs the README\'s test command for the worker, with PostgreSQL and Redis from apt, and fails when the suite is skipped', () => {
    const apt = all.find((s) => /apt-get install/.test(s.run ?? ''));
    expect(apt?.run).toMatch(/\bpostgresql\b/);
    expect(apt?.run).toMatch(/\bredis-server\b/);
    const test = all.at(-1)!;
    expect(test.run).toMatch(/^npm test -- --filter=@ephemera\/worker\b/m);
    // turbo hands the tests only the variables turbo.json lets through: the kubeconfig's must be one of them.
    const turbo = JSON.parse(readFileSync(new URL('turbo.json', root), 'utf8')) as { globalPassThroughEnv: string[] };
    expect(turbo.globalPassThroughEnv).toEqual(expect.arrayContaining(['EPHEMERA_TEST_KUBECONFIG', 'EPHEMERA_TEST_KUBE_CONTEXT']));
    expect(test.shell).toBe('bash');
    expect(test.run).toMatch(/real-cluster suite skipped/);
  });
});
