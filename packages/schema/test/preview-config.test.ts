import { describe, expect, it } from '@jest/globals';
import { branchSlug, describeConfigProblems, parsePreviewConfig, renderPlaceholders, type ConfigProblem } from '../src/index.js';

const EXAMPLE = `version: 1
services:
  web:                                  # DNS-1123 label; becomes the Deployment's and Service's name
    image: ghcr.io/acme/web:{{sha}}     # required
    port: 3000
    replicas: 1
    command: ["node"]
    args: ["server.js"]
    env: { NODE_ENV: preview, PUBLIC_URL: "{{url}}" }
    secret_env:
      - { name: DATABASE_PASSWORD, secret: preview-db, key: password }
    resources: { cpu: 250m, memory: 256Mi }
    health: { path: /healthz }
expose: web
timeout_seconds: 600
`;

function problems(text: string, maxReplicas = 3): ConfigProblem[] {
  const result = parsePreviewConfig(text, { maxReplicas });
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('parsePreviewConfig', () => {
  it('reads the documented example', () => {
    const result = parsePreviewConfig(EXAMPLE, { maxReplicas: 3 });
    expect(result).toEqual({
      ok: true,
      config: {
        version: 1,
        services: {
          web: {
            image: 'ghcr.io/acme/web:{{sha}}',
            port: 3000,
            replicas: 1,
            command: ['node'],
            args: ['server.js'],
            env: { NODE_ENV: 'preview', PUBLIC_URL: '{{url}}' },
            secret_env: [{ name: 'DATABASE_PASSWORD', secret: 'preview-db', key: 'password' }],
            resources: { cpu: '250m', memory: '256Mi' },
            health: { path: '/healthz' },
          },
        },
        expose: 'web',
        timeout_seconds: 600,
      },
    });
  });

  it('fills the defaults: one replica, no env, 600 s, the only service exposed', () => {
    const result = parsePreviewConfig('version: 1\nservices:\n  web:\n    image: nginx:1.27\n    port: 80\n');
    expect(result.ok && result.config).toEqual({
      version: 1,
      services: { web: { image: 'nginx:1.27', port: 80, replicas: 1, env: {}, secret_env: [] } },
      timeout_seconds: 600,
    });
  });

  it('names the path, line and reason of every problem', () => {
    const found = problems(`version: 1
services:
  web:
    image: x:{{commit}}
    port: 3000
    volumes: []
    replicas: 5
  worker:
    image: "{{ sha }}"
    health: { path: /ready }
timeout_seconds: 4000
`);
    expect(found).toEqual(
      expect.arrayContaining([
        { path: 'services.web', message: expect.stringMatching(/^unknown key: volumes \(line 4\)$/) },
        { path: 'timeout_seconds', message: expect.stringMatching(/1800.*\(line 11\)$/) },
      ]),
    );
    // Refinements need a well-formed document; fixed, the next round names what is left.
    const next = problems(`version: 1
services:
  web:
    image: x:{{commit}}
    port: 3000
    replicas: 5
  worker:
    image: "{{ sha }}"
    health: { path: /ready }
`);
    expect(next.map((p) => p.path).sort()).toEqual(['expose', 'services.web.image', 'services.worker.health']);
    expect(next.find((p) => p.path === 'services.web.image')?.message).toMatch(/unknown placeholder \{\{commit\}\} \(known: \{\{sha\}\}, \{\{short_sha\}\}/);
    expect(next.find((p) => p.path === 'expose')?.message).toMatch(/required when there are several services \(web, worker\)/);
  });

  it('holds replicas to the installation\'s maximum', () => {
    expect(problems('version: 1\nservices:\n  web:\n    image: x\n    port: 80\n    replicas: 5\n')).toEqual([
      { path: 'services.web.replicas', message: 'at most 3 on this installation (line 6)' },
    ]);
  });

  it('asks for a port on the exposed service and a known expose', () => {
    expect(problems('version: 1\nservices:\n  web:\n    image: x\n')).toEqual([
      { path: 'services.web.port', message: 'required for the exposed service (line 4)' },
    ]);
    expect(problems('version: 1\nservices:\n  web:\n    image: x\n    port: 80\nexpose: api\n').map((p) => p.path)).toEqual(['expose']);
  });

  it('refuses service names that cannot name a Service, and env names Kubernetes refuses', () => {
    const found = problems('version: 1\nservices:\n  1web:\n    image: x\n    port: 80\n');
    expect(found[0]).toMatchObject({ path: 'services.1web', message: expect.stringMatching(/^invalid name: a DNS-1123 label starting with a letter/) });
    const env = problems('version: 1\nservices:\n  web:\n    image: x\n    port: 80\n    env: { "1X": a }\n');
    expect(env[0]?.path).toBe('services.web.env.1X');
  });

  it('refuses a variable set both in env and secret_env', () => {
    const found = problems(
      'version: 1\nservices:\n  web:\n    image: x\n    port: 80\n    env: { TOKEN: a }\n    secret_env: [{ name: TOKEN, secret: s, key: k }]\n',
    );
    expect(found).toEqual([{ path: 'services.web.secret_env.0.name', message: 'TOKEN is also set in env (line 7)' }]);
  });

  it('reports invalid YAML with its position, an empty file, aliases and oversized files', () => {
    expect(problems('version: 1\nservices: [\n')[0]!.message).toMatch(/^invalid YAML: .* at line 3, column 1$/);
    expect(problems('')).toEqual([{ path: '', message: 'the file is empty' }]);
    expect(problems('a: &a [1]\nb: *a\n')[0]!.message).toMatch(/^invalid YAML: .*[Aa]lias/);
    expect(problems(`version: 1\n# ${'x'.repeat(70_000)}\n`)).toEqual([{ path: '', message: 'larger than 64 KiB' }]);
    expect(problems('version: 1\nversion: 1\n')[0]!.message).toMatch(/^invalid YAML: Map keys must be unique/);
  });

  it('describes problems one per line', () => {
    expect(describeConfigProblems('.ephemera.yml at abc1234', [{ path: 'services.web.port', message: 'required' }, { path: '', message: 'x' }])).toBe(
      '.ephemera.yml at abc1234 is not valid:\n- services.web.port: required\n- (file): x',
    );
  });
});

describe('placeholders', () => {
  const values = {
    sha: 'a'.repeat(40),
    short_sha: 'aaaaaaa',
    pr: '42',
    branch_slug: 'feature-x',
    namespace: 'pr-42-web-1234567890',
    url: 'https://pr-42-web-1234567890.preview.example.com',
    repository: 'acme/web',
  };

  it('replaces every known placeholder as plain text, with or without spaces', () => {
    expect(renderPlaceholders('ghcr.io/{{repository}}:{{ sha }}-{{short_sha}}-{{pr}}-{{branch_slug}} {{namespace}} {{url}}', values)).toBe(
      `ghcr.io/acme/web:${'a'.repeat(40)}-aaaaaaa-42-feature-x pr-42-web-1234567890 https://pr-42-web-1234567890.preview.example.com`,
    );
  });

  it('folds a branch name to a DNS label, whatever a fork names it', () => {
    expect(branchSlug('Feature/Add_Login')).toBe('feature-add-login');
    expect(branchSlug('$(rm -rf /);`x`')).toBe('rm-rf-x');
    expect(branchSlug('///')).toBe('branch');
    expect(branchSlug('a'.repeat(100))).toHaveLength(63);
  });
});
